-- args: --simulate --leaves 4 --redundancy 2
-- exit: 1
-- A leaf that comes back: its copies become replicas of the promoted masters
-- and catch up; with auto_attach OFF it waits, detached, for ATTACH LEAF;
-- DETACH LEAF moves its masters to the pair; CHECK PARTITIONS shows every
-- replica equal to its master.
CREATE DATABASE shop PARTITIONS 4;
INSERT INTO shop VALUES ('k01', 'v01'), ('k02', 'v02'), ('k03', 'v03'),
  ('k04', 'v04'), ('k05', 'v05'), ('k06', 'v06');
KILL LEAF '127.0.0.1':10001;
INSERT INTO shop VALUES ('k07', 'v07'), ('k08', 'v08');
RESTART LEAF '127.0.0.1':10001;
SLEEP 1000;
SHOW LEAVES;
CHECK PARTITIONS ON shop;
SHOW REBALANCE STATUS ON shop;
SET GLOBAL auto_attach = OFF;
KILL LEAF '127.0.0.1':10003;
RESTART LEAF '127.0.0.1':10003;
SLEEP 200;
SHOW LEAVES;
ATTACH LEAF '127.0.0.1':10003 NO REBALANCE;
SLEEP 1000;
DETACH LEAF '127.0.0.1':10002;
SHOW PARTITIONS ON shop;
SELECT COUNT(*) FROM shop;
ATTACH LEAF ALL;
SLEEP 2000;
SHOW PARTITIONS ON shop;
CHECK PARTITIONS ON shop;
EXPLAIN CLEAR ORPHAN DATABASES;
ATTACH LEAF '127.0.0.1':10002;
DETACH LEAF '127.0.0.1':9999;
CHECK PARTITIONS ON nowhere;
SELECT * FROM shop;
