-- tables: dispatcher
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (1, 'sip:127.0.0.1:15061', 0, 0, '');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (1, 'sip:127.0.0.1:15062', 0, 0, 'duid=b;weight=30');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (1, 'sip:127.0.0.1:15063', 0, 0, 'duid=c');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (2, 'sip:127.0.0.1:15071;transport=udp', 0, 10, 'pri=high');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (2, 'sip:127.0.0.1:15072', 0, 20, '');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (2, 'sip:127.0.0.1:15073', 1, 5, '');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (3, 'sip:127.0.0.1:15081', 4, 0, '');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (5, 'sip:127.0.0.1:15091', 0, 0, '');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (5, 'sip:127.0.0.1:15092', 0, 0, '');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (5, 'sip:127.0.0.1:15093', 0, 0, '');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (6, 'sip:127.0.0.1:15101', 0, 0, 'duid=g1;maxload=1');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (6, 'sip:127.0.0.1:15102', 0, 0, 'duid=g2');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (6, 'sip:127.0.0.1:15103', 0, 0, 'duid=g3');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs) VALUES (8, 'sip:127.0.0.1', 0, 0, 'any=port');
