-- args: --simulate --leaves 4 --redundancy 2
-- Killing a leaf of a redundancy-2 cluster promotes its replicas: no row is
-- lost and writes go on.
CREATE DATABASE shop PARTITIONS 8;
INSERT INTO shop VALUES ('k01', 'v01'), ('k02', 'v02'), ('k03', 'v03'),
  ('k04', 'v04'), ('k05', 'v05'), ('k06', 'v06'), ('k07', 'v07'),
  ('k08', 'v08'), ('k09', 'v09'), ('k10', 'v10');
KILL LEAF '127.0.0.1':10001;
SHOW LEAVES;
SHOW PARTITIONS ON shop;
SELECT * FROM shop;
INSERT INTO shop VALUES ('k11', 'v11'), ('k12', 'v12'), ('k13', 'v13'),
  ('k14', 'v14');
SELECT COUNT(*) FROM shop;
SELECT * FROM shop WHERE key = 'k12';
