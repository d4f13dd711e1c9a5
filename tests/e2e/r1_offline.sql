-- args: --simulate --leaves 2 --redundancy 1
-- exit: 1
-- With redundancy 1 a dead leaf takes its partitions offline: reads that
-- need them fail and name them, reads of the other leaf go on, and the
-- restarted leaf brings its partitions back.
CREATE DATABASE shop PARTITIONS 4;
SHOW PARTITIONS ON shop;
INSERT INTO shop VALUES ('k01', 'v01'), ('k02', 'v02'), ('k03', 'v03'),
  ('k04', 'v04'), ('k05', 'v05'), ('k06', 'v06'), ('k07', 'v07'),
  ('k08', 'v08');
SELECT COUNT(*) FROM shop;
KILL LEAF '127.0.0.1':10002;
SHOW LEAVES;
-- Fails: shop:1 and shop:3 were on 127.0.0.1:10002.
SELECT COUNT(*) FROM shop;
-- k06 lives on 127.0.0.1:10001, k03 on shop:3.
SELECT * FROM shop WHERE key = 'k06';
SELECT * FROM shop WHERE key = 'k03';
RESTART LEAF '127.0.0.1':10002;
SLEEP 200;
SELECT COUNT(*) FROM shop;
SELECT * FROM shop;
SHOW PARTITIONS ON shop;
