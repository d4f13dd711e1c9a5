-- args: --simulate --leaves 2 --redundancy 2
-- exit: 1
-- Bad statements fail with an error that names what is wrong, and change
-- nothing.
CREATE DATABASE shop PARTITIONS 2;
INSERT INTO shop VALUES ('a', '1'), ('b', '2');
SELEC * FROM shop;
INSERT INTO shop VALUES ('c' '3');
INSERT INTO shop VALUES (c, '3');
INSERT INTO shop VALUES ('', '3');
SELECT * FROM shop WHERE value = '1';
CREATE DATABASE shop PARTITIONS 0;
SELECT * FROM shop;
SELECT * FROM nowhere;
INSERT INTO nowhere VALUES ('a', '1');
DELETE FROM nowhere WHERE key = 'a';
SHOW PARTITIONS ON nowhere;
DROP DATABASE nowhere;
SET GLOBAL leaf_failure_timeout_ms = 'soon';
SET GLOBAL leaf_failure_timeout_ms = 5;
SET GLOBAL auto_attach = maybe;
SET GLOBAL no_such_variable = 1;
SET GLOBAL leaf_failure_timeout_ms = 10;
SET GLOBAL leaf_heartbeat_interval_ms = 400;
SHOW VARIABLES LIKE 'leaf%';
SHOW VARIABLES LIKE 'leaf_failure_timeout%';
CREATE DATABASE shop;
ADD LEAF '127.0.0.1':10001;
KILL LEAF '127.0.0.1':19999;
RESTART LEAF '127.0.0.1':10001;
SHOW LEAVES;
SELECT * FROM shop;
SELECT COUNT(*) FROM shop;
