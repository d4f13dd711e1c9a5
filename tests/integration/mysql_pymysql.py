"""PyMySQL against leafguard's MySQL port, run by mysql_clients.sh.

Environment: MYSQL_PORT, ROOT_PASSWORD, VICTIM_PID (a leaf process that this
test kills while it writes).
"""
import os
import signal
import socket
import struct
import sys
import time

import pymysql

PORT = int(os.environ["MYSQL_PORT"])
ROOT_PASSWORD = os.environ["ROOT_PASSWORD"]
VICTIM = int(os.environ["VICTIM_PID"])


def connect(user="root", password=ROOT_PASSWORD):
    return pymysql.connect(host="127.0.0.1", port=PORT, user=user,
                           password=password, connect_timeout=5,
                           read_timeout=30, write_timeout=30)


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


def error_code(fn):
    """The MySQL error number fn() raised, or None."""
    try:
        fn()
    except pymysql.err.MySQLError as e:
        return e.args[0]
    return None


# A client that connects and never logs in is closed after connect_timeout
# (10 s): opened now, looked at the end.
silent = socket.create_connection(("127.0.0.1", PORT), timeout=20)
silent_since = time.time()

conn = connect()
cur = conn.cursor()
cur.execute("CREATE DATABASE py PARTITIONS 8")
check(cur.execute("INSERT INTO py VALUES ('a','1'),('b','2')") == 2,
      "INSERT of two rows reports 2 rows affected")
conn.commit()
cur.execute("SELECT * FROM py WHERE key = 'a'")
check(cur.fetchall() == (("a", "1"),), "a point SELECT reads the row")
check([d[0] for d in cur.description] == ["Key", "Value"],
      "the columns are Key and Value")
cur.execute("SELECT @@version_comment, DATABASE()")
check(cur.fetchone() == ("leafguard", None), "what drivers ask on connect")
check(error_code(lambda: cur.execute("SELECT * FROM nosuch")) == 1049,
      "an unknown database is error 1049")
check(error_code(lambda: cur.execute("SELEKT 1")) == 1064,
      "a syntax error is error 1064")
check(error_code(lambda: connect(password="wrong")) == 1045,
      "a wrong password is error 1045")
cur.execute("CREATE USER 'writer'@'%' IDENTIFIED BY 'w'")
cur.execute("GRANT SELECT ON py.* TO 'writer'@'%'")
writer = connect("writer", "w").cursor()
writer.execute("SELECT COUNT(*) FROM py")
check(writer.fetchone() == ("2",), "a user with SELECT reads")
check(error_code(lambda: writer.execute(
    "INSERT INTO py VALUES ('x','1')")) == 1227,
    "without INSERT, an INSERT is error 1227")

# Bad bytes on the port: an ERR or a closed connection, never a crash.
def raw_session(payload):
    """Sends `payload` after the server's greeting; returns what comes back
    before the server closes the connection (at most 2 s)."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=2)
    s.recv(4096)
    s.sendall(payload)
    got = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except socket.timeout:
        pass
    s.close()
    return got


garbage = bytes(range(7, 57))
reply = raw_session(struct.pack("<I", len(garbage))[:3] + b"\x01" + garbage)
check(len(reply) > 4 and reply[4] == 0xFF,
      "a malformed handshake answer gets an ERR packet")
raw_session(b"\xff\xff\xff\x01" + b"x" * 100)  # a truncated 16 MiB packet
raw_session(b"\x05\x00")                          # half a header
try:
    conn._execute_command(0x1F, b"")  # COM_RESET_CONNECTION: not spoken here
    conn._read_ok_packet()
    check(False, "an unknown command was answered OK")
except pymysql.err.MySQLError as e:
    check(e.args[0] == 1047, "an unknown command is error 1047")
cur = connect().cursor()
cur.execute("SELECT COUNT(*) FROM py")
check(cur.fetchone() == ("2",), "the server still serves after bad bytes")

# A leaf killed in the middle of a write loop: the client reconnects and
# retries each write until it is acknowledged; every acknowledged write
# must then be readable.
acked = {}
i = 0
errors = 0
killed_at = None
deadline = time.time() + 60
conn = connect()
while i < 600:
    if i == 200 and killed_at is None:
        os.kill(VICTIM, signal.SIGKILL)
        killed_at = time.time()
    key, value = "w%d" % i, str(i)
    try:
        conn.cursor().execute("INSERT INTO py VALUES (%s, %s)", (key, value))
        acked[key] = value
        i += 1
    except pymysql.err.MySQLError as e:
        errors += 1
        check(time.time() < deadline, "writes resume within 60 s (%r)" % e)
        time.sleep(0.05)
        if isinstance(e, pymysql.err.OperationalError) and e.args[0] in (
                2006, 2013, 2003):
            conn = connect()
print("ok: %d writes acknowledged, %d attempts failed and were retried"
      % (len(acked), errors))
cur = connect().cursor()
cur.execute("SELECT * FROM py")
rows = dict(cur.fetchall())
lost = [k for k, v in acked.items() if rows.get(k) != v]
check(not lost, "every acknowledged write is readable after the failover "
      "(lost: %s)" % lost[:5])

got = b""
try:
    while True:
        chunk = silent.recv(4096)
        if not chunk:
            break
        got += chunk
except socket.timeout:
    pass
waited = time.time() - silent_since
# The greeting, then an ERR packet (0xff) with error 1159, then the close.
check(b"\xff\x87\x04" in got and waited < 15,
      "a client that never logs in is closed with error 1159 after %.1f s"
      % waited)
