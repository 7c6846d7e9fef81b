#!/usr/bin/env python3
"""Get a device certificate from factory-ca with a SigV4-signed request (botocore).

usage: station-sigv4.py URL DEVICE.csr [OUT_DIR]
Credentials: botocore's chain (AWS_PROFILE, AWS_ACCESS_KEY_ID..., SSO, roles).
Region: the API Gateway URL's, else AWS_REGION or the profile's region.
"""
import json, os, re, sys, urllib.error, urllib.request

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

url, csr_file = sys.argv[1].rstrip("/"), sys.argv[2]
out = sys.argv[3] if len(sys.argv) > 3 else os.path.dirname(csr_file) or "."
session = botocore.session.Session()
gateway = re.match(r"https://[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com", url)
region = gateway.group(1) if gateway else os.environ.get("AWS_REGION") or session.get_config_variable("region")
credentials = session.get_credentials()
if credentials is None or region is None:
    sys.exit("no AWS credentials or region: run aws configure, or set AWS_PROFILE and AWS_REGION")

with open(csr_file, "rb") as f:
    request = AWSRequest("POST", f"{url}/certificates", data=f.read(), headers={"Content-Type": "application/pkcs10"})
SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
prepared = request.prepare()
try:
    with urllib.request.urlopen(urllib.request.Request(prepared.url, prepared.body, dict(prepared.headers), method="POST")) as r:
        issued = json.load(r)
except urllib.error.HTTPError as e:
    error = json.loads(e.read() or b"{}").get("error", {})
    sys.exit(f"refused: HTTP {e.code} {error.get('code')}: {error.get('message')}")

# The chain is the device certificate, then the issuing CA.
device, issuing = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", issued["certificateChainPem"], re.S)
os.makedirs(out, exist_ok=True)
for name, pem in [("device.pem", device), ("issuing.pem", issuing), ("root.pem", issued["rootCertificatePem"]),
                  ("deviceCertAndCACert.crt", device + issuing)]:
    with open(os.path.join(out, name), "w") as f:
        f.write(pem)
print(issued["serialNumber"], issued["subject"]["CN"], issued["notAfter"])
