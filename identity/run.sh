#!/usr/bin/env bash
# The identity suite: complyd with `--tls auto` and its token service, driven by the official
# Python clients unmodified (azure-identity -> msgraph-sdk and msgraph-beta-sdk) over https.
#
#   identity/run.sh      installs the pinned clients into identity/.venv when missing or changed,
#                        builds complyd, registers apps and a user with `complyd app|user add`,
#                        starts a server in a temporary data folder and runs identity/python/run.py.
# Exits non-zero when any case failed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
started=$SECONDS

venv="$here/.venv"
"$root/scripts/venv.sh" "$venv" "$here/python/requirements.txt" identity

(cd "$root" && cargo build --quiet --locked -p complyd)
bin="$root/target/debug/complyd"
data="$(mktemp -d)"
server=""
# shellcheck disable=SC2317 # run by the EXIT trap, which shellcheck does not follow
cleanup() {
    if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$data"
}
trap cleanup EXIT

tenant="3c1e5f0a-7d2b-4c8e-9f61-2a4b6c8d0e1f"
rw="DeviceManagementConfiguration.ReadWrite.All"
field() { "$venv/bin/python" -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

writer="$("$bin" app add --data "$data" --tenant "$tenant" --name "identity writer" --generate-secret --roles "$rw")"
reader="$("$bin" app add --data "$data" --tenant "$tenant" --name "identity reader" --generate-secret \
    --roles DeviceManagementConfiguration.Read.All)"
# A certificate app: key and certificate in one PEM, as CertificateCredential takes them.
"$venv/bin/python" - "$data/cert-app.pem" "$data/cert-only.pem" <<'PY'
import datetime as dt, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "identity cert app")])
now = dt.datetime.now(dt.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
cert_pem = cert.public_bytes(serialization.Encoding.PEM)
key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
open(sys.argv[1], "wb").write(key_pem + cert_pem)
open(sys.argv[2], "wb").write(cert_pem)
PY
certapp="$("$bin" app add --data "$data" --tenant "$tenant" --name "identity cert" \
    --certificate "$data/cert-only.pem" --roles "$rw")"

"$bin" serve --data "$data" --listen 127.0.0.1:0 --tls auto --jwt-secret identity-suite \
    >"$data/stdout" 2>"$data/stderr" &
server=$!
for _ in $(seq 1 100); do
    [[ -n "$(sed -n 2p "$data/stdout" 2>/dev/null)" ]] && break
    sleep 0.1
done
url="$(sed -n 1p "$data/stdout" | sed -n 's/^listening on //p')"
ca="$(sed -n 2p "$data/stdout" | sed -n 's/^ca certificate: //p')"
if [[ "$url" != https://* || -z "$ca" ]]; then
    echo "FAIL - identity: complyd did not start with https"; cat "$data/stdout" "$data/stderr"; exit 1
fi
echo "# identity: $url (CA $ca)"

status=0
SSL_CERT_FILE="$ca" REQUESTS_CA_BUNDLE="$ca" COMPLYD_URL="$url" COMPLYD_TENANT="$tenant" \
    COMPLYD_CLIENT_ID="$(field clientId <<<"$writer")" COMPLYD_CLIENT_SECRET="$(field secret <<<"$writer")" \
    COMPLYD_READ_CLIENT_ID="$(field clientId <<<"$reader")" COMPLYD_READ_CLIENT_SECRET="$(field secret <<<"$reader")" \
    COMPLYD_CERT_CLIENT_ID="$(field clientId <<<"$certapp")" COMPLYD_CERT_PEM="$data/cert-app.pem" \
    "$venv/bin/python" "$here/python/run.py" || status=$?
if [[ $status -ne 0 ]]; then
    echo "# identity: server log (last 30 lines)"; tail -30 "$data/stderr"
fi
echo "# identity: $((SECONDS - started)) s"
exit $status
