-- tables: domain domain_attrs dbaliases speed_dial
INSERT INTO domain (domain, did) VALUES ('example.com', 'd1');
INSERT INTO domain (domain, did) VALUES ('Sip.Example.ORG', NULL);
INSERT INTO domain (domain, did) VALUES ('alias.example.com', 'd1');
INSERT INTO domain_attrs (did, name, type, value) VALUES ('d1', 'color', 2, 'blue');
INSERT INTO domain_attrs (did, name, type, value) VALUES ('d1', 'color', 2, 'red');
INSERT INTO domain_attrs (did, name, type, value) VALUES ('d1', 'level', 0, '7');
INSERT INTO dbaliases (alias_username, alias_domain, username, domain) VALUES ('sales', 'example.com', 'alice', 'pbx.example.com');
INSERT INTO dbaliases (alias_username, alias_domain, username, domain) VALUES ('help', 'other.org', 'bob', 'example.net');
INSERT INTO dbaliases (alias_username, alias_domain, username, domain) VALUES ('team', 'example.com', 'dave', 'example.com');
INSERT INTO dbaliases (alias_username, alias_domain, username, domain) VALUES ('team', 'example.com', 'erin', 'example.com');
INSERT INTO speed_dial (username, domain, sd_username, sd_domain, new_uri) VALUES ('alice', 'example.com', '11', 'example.com', 'sip:bob@example.net');
INSERT INTO speed_dial (username, domain, sd_username, sd_domain, new_uri) VALUES ('alice', 'example.com', '22', 'example.com', 'carol@example.org;transport=tcp');
INSERT INTO speed_dial (username, domain, sd_username, sd_domain, new_uri) VALUES ('carol', 'example.com', '12', '', 'sip:12@pstn.example.com');
