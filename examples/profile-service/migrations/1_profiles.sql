-- profile-service's table when it keeps its profiles in PostgreSQL
-- (database.url set). Names are stored lowercased: lookups are
-- case-insensitive.
CREATE TABLE profiles (
    name     text PRIMARY KEY CHECK (name = lower(name) AND length(name) BETWEEN 1 AND 256),
    language text NOT NULL CHECK (length(language) BETWEEN 1 AND 16)
);
