"""Who may do what: sessions and login, passwords, two-factor, admin accounts."""
