-- Catalog search and lists (issue 11): typo search on every PostgreSQL, without extensions; a name sort
-- that reads as Spanish and English readers expect on every server; price sorts within one currency.

-- --- Typos: a vocabulary of product-name words with their one-letter deletions (the SymSpell idea) ---
-- Two words are within one edit (insertion, deletion, substitution, adjacent transposition) only if
-- their sets {word itself + every one-letter deletion} intersect; the intersection also admits some
-- pairs two edits apart ("axyb" ~ "ayzb"), so search_one_edit() checks each candidate found.
-- Words are the accent-folded runs of letters a-z of 4+ letters (a 5-letter typo may lack one letter
-- of a 4-letter word); words with digits (models, sizes) are left to exact and prefix matching.

CREATE TABLE search_words (
    variant text COLLATE "C" NOT NULL,  -- the word, or the word less one letter
    word text COLLATE "C" NOT NULL,     -- an accent-folded word of some product's name
    PRIMARY KEY (variant, word)
);

CREATE FUNCTION search_name_words(name text) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT DISTINCT w FROM pg_catalog.regexp_split_to_table(search_fold(name), '[^a-z]+') AS w
    WHERE pg_catalog.length(w) >= 4
$$;

CREATE FUNCTION search_word_variants(word text) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT word
    UNION
    SELECT pg_catalog.left(word, i - 1) || pg_catalog.substr(word, i + 1)
    FROM pg_catalog.generate_series(1, pg_catalog.length(word)) AS i
$$;

-- Whether a and b are at most one edit apart (Damerau, adjacent transpositions only): linear time.
CREATE FUNCTION search_one_edit(a text, b text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    la int := pg_catalog.length(a);
    lb int := pg_catalog.length(b);
    p int := 0;  -- length of the common prefix
BEGIN
    IF a = b THEN
        RETURN true;
    ELSIF la - lb > 1 OR lb - la > 1 THEN
        RETURN false;
    END IF;
    WHILE p < LEAST(la, lb) AND pg_catalog.substr(a, p + 1, 1) = pg_catalog.substr(b, p + 1, 1) LOOP
        p := p + 1;
    END LOOP;
    IF la = lb THEN  -- a substitution at p + 1, or p + 1 and p + 2 swapped
        RETURN pg_catalog.substr(a, p + 2) = pg_catalog.substr(b, p + 2)
            OR (pg_catalog.substr(a, p + 1, 1) = pg_catalog.substr(b, p + 2, 1)
                AND pg_catalog.substr(a, p + 2, 1) = pg_catalog.substr(b, p + 1, 1)
                AND pg_catalog.substr(a, p + 3) = pg_catalog.substr(b, p + 3));
    ELSIF la > lb THEN  -- a has one letter more, at p + 1
        RETURN pg_catalog.substr(a, p + 2) = pg_catalog.substr(b, p + 1);
    END IF;
    RETURN pg_catalog.substr(b, p + 2) = pg_catalog.substr(a, p + 1);
END
$$;

-- The vocabulary grows with the names written, whoever writes them (one statement for a whole batch:
-- the transition table). Keys are inserted in order, so two transactions adding the same new words
-- wait for each other instead of deadlocking. Words of names since changed or deleted stay: they
-- match no product, so they cost a row each and change no answer.
CREATE FUNCTION search_words_learn() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO search_words (variant, word)
    SELECT DISTINCT v, w
    FROM (SELECT DISTINCT search_name_words(n.name) AS w FROM new_rows n) words,
         search_word_variants(w) AS v
    WHERE NOT EXISTS (SELECT 1 FROM search_words s WHERE s.variant = w AND s.word = w)
    ORDER BY v, w
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER products_search_words_insert AFTER INSERT ON products
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_words_learn();
CREATE TRIGGER products_search_words_update AFTER UPDATE ON products
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_words_learn();

-- Backfill from the products there are.
INSERT INTO search_words (variant, word)
SELECT DISTINCT v, w
FROM (SELECT DISTINCT search_name_words(name) AS w FROM products) words, search_word_variants(w) AS v
ON CONFLICT DO NOTHING;

-- The search's typo part for the words typed (lower-cased \w+ runs, as the prefix query takes them):
-- each word as typed (its Spanish and English stems, or as a prefix) OR, for a word of 5+ letters a-z,
-- the vocabulary words one edit away, stemmed in Spanish and English as the search column is; the
-- words ANDed, stop words of both languages left out. NULL when no word has a neighbour (the search
-- is then full text + prefix alone).
CREATE FUNCTION search_typo_query(words text[]) RETURNS tsquery
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    typed text;
    near text;
    spanish tsquery;
    english tsquery;
    term tsquery;
    result tsquery;
    fuzzy boolean := false;
BEGIN
    FOREACH typed IN ARRAY words LOOP
        typed := search_fold(typed);
        spanish := pg_catalog.to_tsquery('spanish', pg_catalog.quote_literal(typed));
        english := pg_catalog.to_tsquery('english', pg_catalog.quote_literal(typed));
        CONTINUE WHEN pg_catalog.numnode(spanish) = 0 AND pg_catalog.numnode(english) = 0;  -- "the", "de"
        term := spanish || english || pg_catalog.to_tsquery('simple', pg_catalog.quote_literal(typed) || ':*');
        IF typed ~ '^[a-z]{5,}$' THEN
            SELECT pg_catalog.string_agg(pg_catalog.quote_literal(c.word), ' | ' ORDER BY c.word) INTO near
            FROM (SELECT DISTINCT s.word FROM search_words s
                  WHERE s.variant IN (SELECT search_word_variants(typed)) AND s.word <> typed) c
            WHERE search_one_edit(typed, c.word);
            IF near IS NOT NULL THEN
                term := term || pg_catalog.to_tsquery('spanish', near) || pg_catalog.to_tsquery('english', near);
                fuzzy := true;
            END IF;
        END IF;
        result := CASE WHEN result IS NULL THEN term ELSE result && term END;
    END LOOP;
    RETURN CASE WHEN fuzzy THEN result END;
END
$$;

-- pg_trgm's fuzzy branch is replaced: its index (where the server had pg_trgm) is no longer read.
DROP INDEX IF EXISTS products_name_trgm_idx;

-- --- Name sort: case and accents folded, ñ after n and before o, the name itself as the tie-break -----
-- Compared bytewise (COLLATE "C"), so every server sorts alike whatever its locale, with or without ICU:
-- "Ábaco" < "avión" < "Nube" < "Ñandú" < "Zorro". Accented capitals are folded by the map (lower() of
-- non-ASCII letters depends on the server's locale); ñ becomes n + U+007F, above every letter a-z;
-- U+0001 separates the folded name from the name, so names folding alike sort by their own bytes.
CREATE FUNCTION search_sort_key(value text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    key text := pg_catalog.translate(value, 'ÁÀÂÄÃÅáàâäãåÉÈÊËéèêëÍÌÎÏíìîïÓÒÔÖÕóòôöõÚÙÛÜúùûüÇçÝýÿ',
                                     'aaaaaaaaaaaaeeeeeeeeiiiiiiiioooooooooouuuuuuuuccyyy');
BEGIN
    key := pg_catalog.replace(pg_catalog.replace(key, 'ñ', 'n' || pg_catalog.chr(127)),
                              'Ñ', 'n' || pg_catalog.chr(127));
    RETURN pg_catalog.lower(key) || pg_catalog.chr(1) || value;
END
$$;

ALTER TABLE products ADD COLUMN name_sort_key text COLLATE "C" GENERATED ALWAYS AS (search_sort_key(name)) STORED;
CREATE INDEX products_name_sort_key_idx ON products (name_sort_key, id);
DROP INDEX IF EXISTS products_name_sort_idx;

-- --- Price sorts and ranges within one currency ----------------------------------------------------
CREATE INDEX products_currency_price_sort_idx ON products (currency, (coalesce(price, -1)), id);
DROP INDEX IF EXISTS products_price_sort_idx;
