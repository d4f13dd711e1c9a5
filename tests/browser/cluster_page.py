#!/usr/bin/env python3
"""The cluster page of a node (`/`), in headless Chromium, against a running
`leafguard local --mysql-port Q` that also serves its page on --http-port P.

Checks that the page draws the four leaves; that a new database shows up as
8 master and 8 replica squares; that after KILL LEAF of a leaf holding
masters, its box turns offline and each of its masters shows on another
leaf within 2 s of the KILL; that the failover is listed; and that after
RESTART LEAF the leaf is online again with its copies. Screenshots of both
moments go to --screenshot-dir.

Run it with Debian's python (python3-selenium, python3-pymysql, chromium,
chromium-driver):
  /usr/bin/python3 tests/browser/cluster_page.py --http-port P --mysql-port Q \
      --screenshot-dir D
Exit status 0 when every check passed, 1 otherwise.
"""
import argparse
import collections
import os
import sys
import time

import pymysql
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

DB = "web"
# What the page shows, read in one call: the state of each leaf box, the
# squares of DB as [partition, role, leaf], the leaves of the failover items.
SHOWN_JS = """
const leaves = {};
document.querySelectorAll('[data-leaf][data-state]')
  .forEach(e => { leaves[e.dataset.leaf] = e.dataset.state; });
return {
  updates: Number(document.body.dataset.updates || 0),
  leaves: leaves,
  squares: Array.from(document.querySelectorAll('.sq[data-partition^="%s:"]'))
    .map(e => [e.dataset.partition, e.dataset.role, e.dataset.leaf]),
  failovers: Array.from(document.querySelectorAll('.failover'))
    .map(e => e.dataset.leaf),
};
""" % DB


class Failure(Exception):
    pass


def describe(shown):
    """A short account of what the page showed, for failure messages."""
    masters = collections.Counter(l for _, r, l in shown["squares"]
                                  if r == "Master")
    return ("leaves %s; %d squares of %s, masters per leaf %s; failovers %s; "
            "%d updates" % (shown["leaves"], len(shown["squares"]), DB,
                            dict(masters), shown["failovers"],
                            shown["updates"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--mysql-port", type=int, required=True)
    ap.add_argument("--screenshot-dir", required=True)
    args = ap.parse_args()
    os.makedirs(args.screenshot_dir, exist_ok=True)

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
              "--window-size=1400,1000"):
        options.add_argument(a)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                              options=options)
    try:
        run(driver, args)
        return 0
    except Exception as e:  # a Failure, or the driver or pymysql giving up
        if isinstance(e, Failure):
            print("FAIL: %s" % e)
        else:  # the first line only: the driver's stack trace says little
            print("FAIL: %s: %s" % (type(e).__name__,
                                    (str(e).strip() or "?").splitlines()[0]))
        try:
            for entry in driver.get_log("browser"):
                print("  browser console:", entry.get("message"))
        except Exception:
            pass
        return 1
    finally:
        driver.quit()


def run(driver, args):
    def shown():
        return driver.execute_script(SHOWN_JS)

    def wait(what, cond, timeout, interval=0.1, since=None):
        """Polls the page until cond(shown) holds; returns (shown, ms since
        `since`)."""
        start = time.monotonic() if since is None else since
        while True:
            s = shown()
            elapsed = (time.monotonic() - start) * 1000
            if cond(s):
                return s, elapsed
            if elapsed > timeout * 1000:
                raise Failure("%s: not within %.1f s (%.0f ms); the page "
                              "showed %s" % (what, timeout, elapsed,
                                             describe(s)))
            time.sleep(interval)

    def screenshot(name):
        path = os.path.join(args.screenshot_dir, name)
        if not driver.save_screenshot(path):
            raise Failure("could not save " + path)
        print("screenshot:", path)

    # a. The page draws the cluster.
    driver.get("http://127.0.0.1:%d/" % args.http_port)
    wait("the page drawn with 4 leaves",
         lambda s: s["updates"] >= 1 and len(s["leaves"]) == 4, 10)
    print("PASS the page shows 4 leaves")

    # b. A database with a few rows.
    conn = pymysql.connect(host="127.0.0.1", port=args.mysql_port,
                           user="root", password="", autocommit=True,
                           connect_timeout=5, read_timeout=30)
    cur = conn.cursor()
    try:
        cur.execute("CREATE DATABASE %s PARTITIONS 8" % DB)
    except pymysql.err.MySQLError as e:
        if e.args[0] != 1007 and "exist" not in str(e).lower():
            raise
    cur.execute("INSERT INTO %s VALUES ('k1','v1'), ('k2','v2')" % DB)
    cur.execute("INSERT INTO %s VALUES ('k3','v3')" % DB)

    # c. Its copies on the page.
    def roles(s):
        return collections.Counter(r for _, r, _ in s["squares"])
    s, _ = wait("16 squares of %s (8 masters, 8 replicas)" % DB,
                lambda s: len(s["squares"]) == 16 and
                roles(s) == {"Master": 8, "Replica": 8}, 10)
    master_of = {p: l for p, r, l in s["squares"] if r == "Master"}
    per_leaf = collections.Counter(master_of.values())
    print("PASS %s shows 8 masters and 8 replicas; masters per leaf %s"
          % (DB, dict(per_leaf)))

    # d. KILL LEAF of the leaf with the most masters: its box offline and
    # its masters shown elsewhere within 2 s of the KILL.
    victim = per_leaf.most_common(1)[0][0]
    moved = sorted(p for p, l in master_of.items() if l == victim)
    host, port = victim.rsplit(":", 1)
    killed_at = time.monotonic()
    cur.execute("KILL LEAF '%s':%s" % (host, port))
    kill_ms = (time.monotonic() - killed_at) * 1000

    def failed_over(s):
        if s["leaves"].get(victim) != "offline":
            return False
        new = {p: l for p, r, l in s["squares"] if r == "Master"}
        return all(new.get(p) not in (None, victim) for p in moved)
    s, ms = wait("after KILL LEAF %s (it answered in %.0f ms): its box offline "
                 "and masters of %s elsewhere" % (victim, kill_ms,
                                                   ", ".join(moved)),
                 failed_over, 2, interval=0.05, since=killed_at)
    new = {p: l for p, r, l in s["squares"] if r == "Master"}
    print("PASS leaf offline and new masters shown after %.0f ms "
          "(%s killed; its %d masters now on %s)"
          % (ms, victim, len(moved), sorted({new[p] for p in moved})))

    # e. The failover is listed.
    wait("a .failover item for %s" % victim,
         lambda s: victim in s["failovers"], 3)
    print("PASS the failover of %s is listed" % victim)

    # f.
    screenshot("cluster_after_kill.png")

    # g. RESTART LEAF: online again, with its copies.
    cur.execute("RESTART LEAF '%s':%s" % (host, port))
    _, ms = wait("%s online again with copies of %s" % (victim, DB),
                 lambda s: s["leaves"].get(victim) == "online" and
                 any(l == victim for _, _, l in s["squares"]), 20)
    print("PASS %s online again with copies of %s after %.0f ms"
          % (victim, DB, ms))
    screenshot("cluster_after_restart.png")
    conn.close()


if __name__ == "__main__":
    sys.exit(main())
