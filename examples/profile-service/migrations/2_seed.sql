-- The same people as the in-memory default table.
INSERT INTO profiles (name, language) VALUES
    ('alice', 'en'),
    ('bob', 'fr'),
    ('carmen', 'es'),
    ('dieter', 'de'),
    ('giulia', 'it'),
    ('joao', 'pt'),
    ('noor', 'nl');
