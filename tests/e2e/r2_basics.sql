-- args: --simulate --leaves 4 --redundancy 2
-- A healthy redundancy-2 cluster: placement, writes, reads and deletes.
SHOW LEAVES;
CREATE DATABASE shop PARTITIONS 8;
SHOW PARTITIONS ON shop;
INSERT INTO shop VALUES ('apple', 'red'), ('banana', 'yellow'),
  ('cherry', 'dark red'), ('date', 'brown'), ('elderberry', 'purple'),
  ('fig', 'green');
SELECT * FROM shop;
SELECT COUNT(*) FROM shop;
SELECT * FROM shop WHERE key = 'cherry';
DELETE FROM shop WHERE key = 'banana';
SELECT * FROM shop;
SELECT * FROM shop WHERE key = 'banana';
SELECT COUNT(*) FROM shop;
SHOW DATABASES;
SHOW VARIABLES LIKE 'leaf%';
