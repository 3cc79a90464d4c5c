-- tables: address trusted
INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (1, '127.0.0.1', 32, 0, 'one');
INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (2, '127.0.0.0', 8, 0, 'loopnet');
INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (3, '127.0.0.2', 32, 0, NULL);
INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (4, '10.0.0.0', 8, 5060, 'ten');
INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (5, '192.168.1.10', 32, 5070, NULL);
INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (5, '2001:db8::1', 128, 0, 'six');
INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (5, 'gw.example.com', 0, 0, 'dn');
INSERT INTO trusted (src_ip, proto, from_pattern, ruri_pattern, tag, priority)
  VALUES ('127.0.0.1', 'udp', '^sip:trust', NULL, 'from-trust', 5);
INSERT INTO trusted (src_ip, proto, from_pattern, ruri_pattern, tag, priority)
  VALUES ('127.0.0.1', 'any', NULL, 'sip:trusted-ruri', 'ruri', 1);
INSERT INTO trusted (src_ip, proto, from_pattern, ruri_pattern, tag, priority)
  VALUES ('127.0.0.1', 'tcp', NULL, NULL, 'tcp-only', 0);
INSERT INTO trusted (src_ip, proto, from_pattern, ruri_pattern, tag, priority)
  VALUES ('10.9.9.9', 'any', NULL, NULL, 'other', 0);
