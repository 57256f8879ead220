#!/usr/bin/python3
"""Drives one scheduler storm against `cairn serve --test-clock` and measures it from outside.

Usage: policy_storm.py CREDENTIALS_JSON DURATION EXPECTED
  Calls AdvanceClock(DURATION) (it answers once every policy due on the way has run) while a reader
  thread calls DescribeSnapshots (Limit 20) back to back and samples how many automatic snapshots exist
  and how many are NORMAL. Prints one JSON line: the storm's wall time, when the first and the last run
  had started (their snapshots appeared), when all EXPECTED were NORMAL, and DescribeSnapshots latency
  percentiles during the storm. Requests are signed with TC3-HMAC-SHA256 as Tencent's SDKs sign them.
"""
import hashlib, hmac, json, sys, threading, time, urllib.request

creds = json.load(open(sys.argv[1]))
duration, expected = sys.argv[2], int(sys.argv[3])
endpoint = creds["endpoint"].rstrip("/")
host = endpoint.split("//", 1)[1]

def call(action, params, timeout=3600):
    body = json.dumps(params).encode()
    ts = int(time.time())
    date = time.strftime("%Y-%m-%d", time.gmtime(ts))
    service = host.split(".")[0]
    ctype = "application/json; charset=utf-8"
    canonical = "POST\n/\n\ncontent-type:%s\nhost:%s\n\ncontent-type;host\n%s" % (ctype, host, hashlib.sha256(body).hexdigest())
    scope = "%s/%s/tc3_request" % (date, service)
    to_sign = "TC3-HMAC-SHA256\n%d\n%s\n%s" % (ts, scope, hashlib.sha256(canonical.encode()).hexdigest())
    key = hmac.new(("TC3" + creds["secretKey"]).encode(), date.encode(), hashlib.sha256).digest()
    key = hmac.new(key, service.encode(), hashlib.sha256).digest()
    key = hmac.new(key, b"tc3_request", hashlib.sha256).digest()
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(endpoint + "/", data=body, method="POST", headers={
        "Content-Type": ctype, "X-TC-Action": action, "X-TC-Version": "2017-03-12", "X-TC-Timestamp": str(ts),
        "X-TC-Region": creds.get("region", "ap-guangzhou"),
        "Authorization": "TC3-HMAC-SHA256 Credential=%s/%s, SignedHeaders=content-type;host, Signature=%s" % (creds["secretId"], scope, sig)})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        out = json.load(r)["Response"]
    if "Error" in out:
        raise RuntimeError("%s: %s" % (action, out["Error"]))
    return out

def count(state=None):
    filters = [{"Name": "snapshot-state", "Values": [state]}] if state else []
    return call("DescribeSnapshots", {"Limit": 1, "Filters": filters} if filters else {"Limit": 1})["TotalCount"]

before_all, before_normal = count(), count("NORMAL")
latencies, marks, done = [], {}, threading.Event()
t0 = time.monotonic()

def reader():
    i = 0
    while not done.is_set():
        s = time.monotonic()
        call("DescribeSnapshots", {"Limit": 20})
        latencies.append(time.monotonic() - s)
        i += 1
        if i % 5 == 0:
            now = time.monotonic() - t0
            started, normal = count() - before_all, count("NORMAL") - before_normal
            if started > 0: marks.setdefault("first_started_s", now)
            if started >= expected: marks.setdefault("all_started_s", now)
            if normal >= expected: marks.setdefault("all_normal_s", now)

th = threading.Thread(target=reader)
th.start()
call("AdvanceClock", {"Duration": duration})
wall = time.monotonic() - t0
done.set()
th.join()
marks.setdefault("all_normal_s", wall if count("NORMAL") - before_normal >= expected else None)
marks.setdefault("all_started_s", marks["all_normal_s"])
lat = sorted(latencies)
pct = lambda p: round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None
print(json.dumps({"storm_s": round(wall, 2), "first_started_s": round(marks.get("first_started_s", wall), 2),
                  "all_started_s": marks["all_started_s"] and round(marks["all_started_s"], 2),
                  "all_normal_s": marks["all_normal_s"] and round(marks["all_normal_s"], 2),
                  "snapshots": count("NORMAL") - before_normal, "describe_calls": len(lat),
                  "describe_p50_ms": pct(0.50), "describe_p99_ms": pct(0.99), "describe_max_ms": pct(1.0)}))
