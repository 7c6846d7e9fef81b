#!/usr/bin/env bash
# Station demo: what a manufacturing station does with factory-ca, end to end,
# against the local stack (`npm start`), reproducing AWS's JITP walkthrough
# (docs: "Setting Up Just-in-Time Provisioning with AWS IoT Core") on this machine:
#
#   1. make a device key and CSR with openssl,
#   2. have factory-ca issue the device certificate (POST /certificates),
#   3. check it with `openssl verify` against the root,
#   4. connect the device over MQTT/TLS with its certificate to a local mosquitto
#      broker that trusts factory-ca's root (standing in for the AWS IoT endpoint),
#      publish, and see the message arrive; and see the broker refuse a device
#      certificate made by another CA,
#   5. show what AWS IoT JITP would provision on the device's first connection.
#
# Run with `npm run demo:station` while `npm start` is running.
#
# Environment:
#   BASE_URL         factory-ca API (default http://localhost:3000)
#   LOCAL_STATE_DIR  the local stack's state directory (default .local)
#   MQTT_PORT        port of the local broker's TLS listener on 127.0.0.1 (default 8883)
#   DEVICE_CN        the device's common name (default station-demo-<time>-<random>,
#                    so reruns don't collide with the one-certificate-per-CN policy)
#   ORGANIZATION     the O the policy requires (default Example Corp)
#   COUNTRY          the device's C (default US)
#   STATION_LINE     the device's OU (default "Line 1")
# Files go to $LOCAL_STATE_DIR/station-demo/$DEVICE_CN/.
# Needs openssl, curl, node, mosquitto and mosquitto-clients
# (Debian: apt-get install -y --no-install-recommends mosquitto mosquitto-clients).
set -Eeuo pipefail

BASE_URL="${BASE_URL:-http://localhost:3000}"
BASE_URL="${BASE_URL%/}"
LOCAL_STATE_DIR="${LOCAL_STATE_DIR:-.local}"
MQTT_PORT="${MQTT_PORT:-8883}"
DEVICE_CN="${DEVICE_CN:-station-demo-$(date +%Y%m%d%H%M%S)-$RANDOM}"
ORGANIZATION="${ORGANIZATION:-Example Corp}"
COUNTRY="${COUNTRY:-US}"
STATION_LINE="${STATION_LINE:-Line 1}"
STATION_ID="station-demo"

STEP="0 (preparation)"
broker_pid=""
sub_pid=""

fail() {
  echo "" >&2
  echo "station demo: FAILED at step $STEP: $*" >&2
  exit 1
}
on_error() {
  local rc=$?
  # Report once, from the main shell (the trap is inherited by subshells).
  if [ "$BASHPID" = "$$" ]; then
    echo "" >&2
    echo "station demo: FAILED at step $STEP (command exited $rc: ${BASH_COMMAND})" >&2
  fi
  exit "$rc"
}
cleanup() {
  local pid
  for pid in "$sub_pid" "$broker_pid"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap on_error ERR
trap cleanup EXIT

# Quote an argument for display only when it needs it.
quote() {
  if [[ $1 == '>' || $1 == '&' ]]; then printf '%s' "$1"; return; fi
  if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,#-]+$ ]]; then printf '%s' "$1"; else printf "'%s'" "${1//\'/\'\\\'\'}"; fi
}
# Print a command as an operator would type it.
show() {
  local line='$' a
  for a in "$@"; do line+=" $(quote "$a")"; done
  printf '%s\n' "$line"
}
# Print a command, then run it.
run() {
  show "$@"
  "$@"
}
# Run openssl req, without the "-----" line it prints after making a key.
run_req() {
  show openssl req "$@"
  openssl req "$@" 2>&1 | { grep -v -x -e '-----' || true; }
}
step() {
  STEP="$1 ($2)"
  printf '\n== Step %s. %s ==\n' "$1" "$2"
}
need() {
  command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed${2:+ ($2)}"
}
# json_get FILE FIELD: a field of a JSON file (dotted path), strings raw, the rest as JSON.
json_get() {
  node -e '
    const [file, path] = process.argv.slice(1);
    let v = JSON.parse(require("fs").readFileSync(file, "utf8"));
    for (const k of path.split(".")) v = v == null ? undefined : v[k];
    if (v === undefined) { console.error(`no ${path} in ${file}`); process.exit(2); }
    process.stdout.write(typeof v === "string" ? v : JSON.stringify(v, null, 2));
  ' "$1" "$2"
}
# pem_out FILE FIELD OUT: write a PEM field of a JSON file, ending with a newline.
pem_out() {
  node -e '
    const [file, field, out] = process.argv.slice(1);
    const v = JSON.parse(require("fs").readFileSync(file, "utf8"))[field];
    if (typeof v !== "string" || !v.includes("-----BEGIN CERTIFICATE-----")) { console.error(`no certificate in ${field}`); process.exit(2); }
    require("fs").writeFileSync(out, v.endsWith("\n") ? v : v + "\n");
  ' "$1" "$2" "$3"
  echo "  wrote $3 ($2)"
}
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------------------
need openssl
need curl
need node
MOSQUITTO="${MOSQUITTO:-$(command -v mosquitto || true)}"
[ -n "$MOSQUITTO" ] || { [ -x /usr/sbin/mosquitto ] && MOSQUITTO=/usr/sbin/mosquitto; } ||
  fail "mosquitto is not installed (Debian: apt-get install -y --no-install-recommends mosquitto mosquitto-clients)"
need mosquitto_pub "Debian package mosquitto-clients"
need mosquitto_sub "Debian package mosquitto-clients"
[[ $DEVICE_CN =~ ^[A-Za-z0-9:_-]{1,64}$ ]] || fail "DEVICE_CN must match ^[A-Za-z0-9:_-]{1,64}\$ (the local policy), got '$DEVICE_CN'"
[[ $MQTT_PORT =~ ^[0-9]+$ ]] || fail "MQTT_PORT must be a port number, got '$MQTT_PORT'"

mkdir -p "$LOCAL_STATE_DIR"
STATE_DIR="$(cd "$LOCAL_STATE_DIR" && pwd)"
WORK="$STATE_DIR/station-demo/$DEVICE_CN"
mkdir -p "$WORK"
cd "$WORK"

echo "factory-ca station demo"
echo "  factory-ca:  $BASE_URL"
echo "  device CN:   $DEVICE_CN"
echo "  work dir:    $WORK"
echo "  MQTT broker: localhost:$MQTT_PORT (local mosquitto, standing in for the AWS IoT endpoint)"

# ---------------------------------------------------------------------------
step 1 "Generate the device key (EC P-256) and CSR"
SUBJECT="/C=$COUNTRY/O=$ORGANIZATION/OU=$STATION_LINE/CN=$DEVICE_CN"
if [ -s deviceCert.key ] && [ -s deviceCert.csr ]; then
  # A rerun with the same DEVICE_CN: send the same CSR again, factory-ca answers
  # with the same certificate (a retry), where a new key would be refused (409).
  echo "deviceCert.key and deviceCert.csr exist from an earlier run: reusing them"
else
  run_req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout deviceCert.key -subj "$SUBJECT" -out deviceCert.csr 2>&1
fi
run openssl req -in deviceCert.csr -noout -verify -subject 2>&1

# ---------------------------------------------------------------------------
step 2 "Ask factory-ca for the device certificate"
show curl -sS -o issue-response.json -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
  -H "X-Station-Id: $STATION_ID" --data-binary @deviceCert.csr "$BASE_URL/certificates"
http_status="$(curl -sS -o issue-response.json -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
  -H "X-Station-Id: $STATION_ID" --data-binary @deviceCert.csr "$BASE_URL/certificates")" ||
  fail "could not reach factory-ca at $BASE_URL (is \`npm start\` running? set BASE_URL)"
echo "HTTP $http_status"
if [[ ! $http_status =~ ^2 ]]; then
  node -e '
    const t = require("fs").readFileSync(process.argv[1], "utf8");
    try { console.error(JSON.stringify(JSON.parse(t), null, 2)); } catch { console.error(t); }
  ' issue-response.json || true
  fail "factory-ca answered HTTP $http_status (error above)"
fi
echo "  serialNumber:  $(json_get issue-response.json serialNumber)"
echo "  certificateId: $(json_get issue-response.json certificateId)"
echo "  issuingCaId:   $(json_get issue-response.json issuingCaId)"
echo "  notAfter:      $(json_get issue-response.json notAfter)"
pem_out issue-response.json certificatePem deviceCert.crt
pem_out issue-response.json caCertificatePem issuingCA.crt
pem_out issue-response.json rootCertificatePem root.cert
# What the device presents when it connects: its certificate, then the issuing CA
# (the walkthrough's deviceCertAndCACert.crt).
show cat deviceCert.crt issuingCA.crt '>' deviceCertAndCACert.crt
cat deviceCert.crt issuingCA.crt >deviceCertAndCACert.crt
node -e '
  const fs = require("fs"), [file, bundle] = process.argv.slice(1);
  const norm = (s) => s.replace(/\r/g, "").trim().split(/\n+/).join("\n");
  if (norm(JSON.parse(fs.readFileSync(file, "utf8")).certificateChainPem) !== norm(fs.readFileSync(bundle, "utf8"))) {
    console.error(`${bundle} differs from certificateChainPem of the response`); process.exit(1);
  }
' issue-response.json deviceCertAndCACert.crt || fail "certificateChainPem is not the device certificate followed by the issuing CA"
echo "  deviceCertAndCACert.crt = certificateChainPem of the response"

# ---------------------------------------------------------------------------
step 3 "Verify the device certificate against the root"
run openssl verify -x509_strict -purpose sslclient -CAfile root.cert -untrusted issuingCA.crt deviceCert.crt
run openssl x509 -in deviceCert.crt -noout -subject -issuer -enddate -ext extendedKeyUsage

# ---------------------------------------------------------------------------
step 4 "Connect the device to a local MQTT broker that trusts factory-ca's root"
mkdir -p broker
echo "-- 4a. The broker's server certificate (CN=localhost), issued by the local issuing CA"
show curl -sS "$BASE_URL/ca"
curl -sS -f -o broker/ca.json "$BASE_URL/ca" || fail "GET $BASE_URL/ca failed"
ISSUING_ID="$(json_get broker/ca.json id)"
echo "  active issuing CA: $ISSUING_ID"
pem_out broker/ca.json certificatePem broker/issuingCA.crt
# Local mode only: the issuing CA's key is a software key file under
# $LOCAL_STATE_DIR/ca/ that stands in for the KMS key (src/local/software-keys.ts).
# The demo signs the broker's TLS server certificate with it directly, outside
# factory-ca (which issues device client certificates only). In AWS the key never
# leaves KMS and the AWS IoT endpoint has its own server certificate.
# The key file is found by its public key (whatever its name), and must match the CA certificate.
issuing_pub="$(openssl x509 -in broker/issuingCA.crt -noout -pubkey)"
ISSUING_KEY=""
for candidate in "$STATE_DIR"/ca/*.key; do
  [ -r "$candidate" ] || continue
  if [ "$(openssl pkey -in "$candidate" -pubout 2>/dev/null)" = "$issuing_pub" ]; then
    ISSUING_KEY="$candidate"
    break
  fi
done
[ -n "$ISSUING_KEY" ] ||
  fail "no key of issuing CA $ISSUING_ID under $STATE_DIR/ca/ (is LOCAL_STATE_DIR the state directory of the running npm start?)"
echo "  its key (local software key): $ISSUING_KEY"
cat >broker/server-ext.cnf <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
run_req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout broker/server.key -subj "/O=$ORGANIZATION/CN=localhost" -out broker/server.csr 2>&1
run openssl x509 -req -in broker/server.csr -CA broker/issuingCA.crt -CAkey "$ISSUING_KEY" \
  -set_serial "0x$(openssl rand -hex 16)" -days 30 -sha256 -extfile broker/server-ext.cnf -out broker/server.crt 2>&1
show cat broker/server.crt broker/issuingCA.crt '>' broker/server-chain.crt
cat broker/server.crt broker/issuingCA.crt >broker/server-chain.crt
run openssl verify -x509_strict -purpose sslserver -CAfile root.cert -untrusted broker/issuingCA.crt broker/server.crt

echo "-- 4b. Start mosquitto with a TLS listener on 127.0.0.1:$MQTT_PORT"
if port_open "$MQTT_PORT"; then
  fail "something already listens on 127.0.0.1:$MQTT_PORT (set MQTT_PORT to a free port)"
fi
# Mirrors the JITP policy's topics: a device may use only things/<its CN>/...
cat >broker/acl <<'EOF'
# The username is the client certificate's CN (use_identity_as_username).
pattern readwrite things/%u/#
EOF
cat >broker/mosquitto.conf <<EOF
# Generated by scripts/station-demo.sh: a stand-in for the AWS IoT endpoint.
per_listener_settings false
persistence false
log_dest file $WORK/broker/mosquitto.log
log_type all
connection_messages true
log_timestamp_format %Y-%m-%dT%H:%M:%S
# Only used when started as root: stay this user, who can read the files here.
user $(id -un)

listener $MQTT_PORT 127.0.0.1
# Clients must present a certificate that chains to factory-ca's root.
cafile $WORK/root.cert
require_certificate true
# The broker's own certificate (then the issuing CA) and key.
certfile $WORK/broker/server-chain.crt
keyfile $WORK/broker/server.key
# The certificate's CN is the MQTT username: no anonymous clients, no passwords.
use_identity_as_username true
allow_anonymous false
acl_file $WORK/broker/acl
EOF
: >broker/mosquitto.log
sed 's/^/    /' broker/mosquitto.conf
show "$MOSQUITTO" -c broker/mosquitto.conf '&'
"$MOSQUITTO" -c broker/mosquitto.conf >broker/mosquitto.out 2>&1 &
broker_pid=$!
# Wait until the listener is open, as the broker's log reports it (probing the
# port with a plain TCP connection would only add TLS errors to the log).
broker_ready() {
  grep -q -F "listen socket on port $MQTT_PORT." broker/mosquitto.log && grep -q -E ' running$' broker/mosquitto.log
}
for _ in $(seq 100); do
  kill -0 "$broker_pid" 2>/dev/null || { cat broker/mosquitto.out broker/mosquitto.log >&2; broker_pid=""; fail "mosquitto exited at start (output above)"; }
  broker_ready && break
  sleep 0.1
done
broker_ready || { cat broker/mosquitto.out broker/mosquitto.log >&2; fail "mosquitto did not open port $MQTT_PORT within 10 s"; }
echo "  mosquitto (pid $broker_pid) listens on 127.0.0.1:$MQTT_PORT; log: broker/mosquitto.log"

echo "-- 4c. Subscribe to things/$DEVICE_CN/# (same device credentials, client id $DEVICE_CN-monitor)"
TLS_ARGS=(--cafile root.cert --cert deviceCertAndCACert.crt --key deviceCert.key -h localhost -p "$MQTT_PORT" --tls-version tlsv1.2)
SUB_ARGS=("${TLS_ARGS[@]}" -q 1 -t "things/$DEVICE_CN/#" -i "$DEVICE_CN-monitor" -C 1 -W 10 -v)
show mosquitto_sub "${SUB_ARGS[@]}" '&'
mosquitto_sub "${SUB_ARGS[@]}" >subscriber.out 2>subscriber.err &
sub_pid=$!
for _ in $(seq 100); do
  grep -q -F "$DEVICE_CN-monitor 1 things/$DEVICE_CN/#" broker/mosquitto.log && break
  kill -0 "$sub_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q -F "$DEVICE_CN-monitor 1 things/$DEVICE_CN/#" broker/mosquitto.log || {
  cat subscriber.err broker/mosquitto.log >&2
  fail "the subscriber did not subscribe (output and broker log above)"
}
subscribed="$(grep -F "$DEVICE_CN-monitor 1 things/$DEVICE_CN/#" broker/mosquitto.log | tail -n 1)"
echo "broker log: ${subscribed#*: }"

echo "-- 4d. Publish as the device: the walkthrough's mosquitto_pub, pointed at the local broker"
MESSAGE="Hello from $DEVICE_CN"
run timeout 20 mosquitto_pub --cafile root.cert --cert deviceCertAndCACert.crt --key deviceCert.key \
  -h localhost -p "$MQTT_PORT" -q 1 -t "things/$DEVICE_CN/hello" -i "$DEVICE_CN" --tls-version tlsv1.2 \
  -m "$MESSAGE" -d 2>&1
sub_rc=0
wait "$sub_pid" || sub_rc=$?
sub_pid=""
[ "$sub_rc" -eq 0 ] || { cat subscriber.err >&2; fail "mosquitto_sub exited $sub_rc without the message"; }
received="$(cat subscriber.out)"
[ "$received" = "things/$DEVICE_CN/hello $MESSAGE" ] || fail "the subscriber got '$received', expected 'things/$DEVICE_CN/hello $MESSAGE'"
echo "subscriber received: $received"
connected="$(grep -F "as $DEVICE_CN (" broker/mosquitto.log | grep -F "u'$DEVICE_CN'" | tail -n 1 || true)"
[ -n "$connected" ] || fail "the broker log does not show $DEVICE_CN connecting with its certificate's CN as identity"
echo "broker log: ${connected#*: }"

echo "-- 4e. A device certificate from another CA (same subject) must be refused"
mkdir -p other-ca
issuing_subject="$(openssl x509 -in issuingCA.crt -noout -subject -nameopt compat)"
issuing_subject="${issuing_subject#subject=}"
echo "   a throwaway CA, even one named like factory-ca's issuing CA ($issuing_subject):"
run_req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -keyout other-ca/otherCA.key -subj "$issuing_subject" -out other-ca/otherCA.crt \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>&1
printf 'basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n' >other-ca/device-ext.cnf
run_req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout other-ca/deviceCert.key -subj "$SUBJECT" -out other-ca/deviceCert.csr 2>&1
run openssl x509 -req -in other-ca/deviceCert.csr -CA other-ca/otherCA.crt -CAkey other-ca/otherCA.key \
  -set_serial "0x$(openssl rand -hex 16)" -days 30 -sha256 -extfile other-ca/device-ext.cnf -out other-ca/deviceCert.crt 2>&1
cat other-ca/deviceCert.crt other-ca/otherCA.crt >other-ca/deviceCertAndCACert.crt
log_lines_before="$(wc -l <broker/mosquitto.log)"
other_rc=0
OTHER_PUB=(timeout 20 mosquitto_pub --cafile root.cert --cert other-ca/deviceCertAndCACert.crt --key other-ca/deviceCert.key
  -h localhost -p "$MQTT_PORT" -q 1 -t "things/$DEVICE_CN/hello" -i "$DEVICE_CN" --tls-version tlsv1.2
  -m "Hello from an impostor" -d)
show "${OTHER_PUB[@]}"
"${OTHER_PUB[@]}" >other-ca/mosquitto_pub.out 2>&1 || other_rc=$?
cat other-ca/mosquitto_pub.out
[ "$other_rc" -ne 0 ] || fail "the broker accepted a device certificate issued by another CA"
[ "$other_rc" -ne 124 ] || fail "mosquitto_pub with the other CA's certificate timed out instead of being refused"
sleep 0.2
refusal="$(tail -n "+$((log_lines_before + 1))" broker/mosquitto.log | grep -i 'certificate verify failed' | head -n 1 || true)"
[ -n "$refusal" ] || {
  tail -n "+$((log_lines_before + 1))" broker/mosquitto.log >&2
  fail "mosquitto_pub failed (exit $other_rc) but the broker log shows no certificate verification failure (log above)"
}
echo "broker log: ${refusal#*: }"
echo "refused: the broker rejected the device certificate issued by another CA (mosquitto_pub exit $other_rc)"

kill "$broker_pid" 2>/dev/null || true
wait "$broker_pid" 2>/dev/null || true
broker_pid=""
echo "  mosquitto stopped"

# ---------------------------------------------------------------------------
step 5 "What AWS IoT just-in-time provisioning will create on the first connection"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const p = r.provisioning;
  if (!p) { console.error("no provisioning in the response"); process.exit(1); }
  console.log(`  thingName:         ${p.thingName}`);
  console.log(`  attributes:        ${JSON.stringify(p.attributes)}`);
  console.log(`  certificateId:     ${p.certificateId}`);
  console.log(`  certificateStatus: ${p.certificateStatus}`);
  console.log(`  policyName:        ${p.policyName ?? "(chosen by AWS IoT)"}`);
  console.log("  policyDocument:");
  console.log(JSON.stringify(p.policyDocument, null, 2).replace(/^/gm, "    "));
  const problems = p.problems ?? [];
  console.log(`  problems:          ${problems.length ? "" : "none"}`);
  for (const x of problems) console.log(`    - ${typeof x === "string" ? x : JSON.stringify(x)}`);
' issue-response.json
echo ""
echo "Note: this local broker only checks that the certificate chains to factory-ca's root."
echo "Revocation is enforced by AWS IoT, by the certificate's status there"
echo "(POST /certificates/{serialNumber}/revoke sets it to REVOKED), not by this local broker."

echo ""
echo "Files in $WORK:"
echo "  deviceCert.key deviceCert.csr deviceCert.crt issuingCA.crt root.cert deviceCertAndCACert.crt issue-response.json"
echo "  broker/ (mosquitto.conf, mosquitto.log, server certificate)  other-ca/ (the refused certificate)"
echo ""
echo "station demo: OK"
