#!/bin/sh
# Makes throwaway keys for the payment sandbox, shared by tests, the demo and benchmarks.
#
#   tests/fakes/make-keys.sh OUTDIR [--tls]
#
# OUTDIR gets (all PEM):
#   merchant_key.pem        merchant API private key, RSA 2048 PKCS#8 (apiclient_key.pem)
#   merchant_public.pem     its public key (the sandbox's --merchant-public-key)
#   merchant_cert.pem       a self-signed certificate of it; merchant_serial.txt its serial (hex)
#   platform_key.pem        the sandbox's signing key, RSA 2048 PKCS#8 (--platform-private-key)
#   platform_public.pem     its public key (the client's WeChat Pay public key, pub_key.pem)
#   platform_serial.txt     PUB_KEY_ID_... naming that key (--platform-serial)
#   platform_cert.pem       a self-signed certificate of the platform key (certificate mode);
#                           platform_cert_serial.txt its serial (upper-case hex)
#   platform2_key.pem       a second platform key, platform2_cert.pem its certificate and
#                           platform2_cert_serial.txt its serial: the certificate a rotation
#                           brings in (the sandbox's --platform-cert platform2_cert.pem,platform2_key.pem)
#   apiv3_key.txt           32 random letters and digits (no newline): the APIv3 key that
#                           encrypts notifications (the sandbox's --apiv3-key)
# and with --tls a test CA and a server certificate for 127.0.0.1 and localhost:
#   ca_key.pem ca_cert.pem  (the client's CA file)
#   server_key.pem server_cert.pem  (the sandbox's --tls-key / --tls-cert)
# Nothing here is secret or reused: every run makes new keys.
set -eu

if [ $# -lt 1 ]; then
  echo "usage: $0 OUTDIR [--tls]" >&2
  exit 2
fi
out=$1
tls=${2:-}
mkdir -p "$out"
cd "$out"

genkey() {
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
  chmod 600 "$1"
}

serial_of() {
  openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' | tr 'a-f' 'A-F'
}

genkey merchant_key.pem
openssl pkey -in merchant_key.pem -pubout -out merchant_public.pem
openssl req -new -x509 -key merchant_key.pem -out merchant_cert.pem -days 30 \
  -subj "/CN=orderquery test merchant" 2>/dev/null
serial_of merchant_cert.pem > merchant_serial.txt

genkey platform_key.pem
openssl pkey -in platform_key.pem -pubout -out platform_public.pem
openssl req -new -x509 -key platform_key.pem -out platform_cert.pem -days 30 \
  -subj "/CN=orderquery test platform" 2>/dev/null
serial_of platform_cert.pem > platform_cert_serial.txt
genkey platform2_key.pem
openssl req -new -x509 -key platform2_key.pem -out platform2_cert.pem -days 60 \
  -subj "/CN=orderquery test platform 2" 2>/dev/null
serial_of platform2_cert.pem > platform2_cert_serial.txt
# WeChat public-key ids are PUB_KEY_ID_ and digits; 32 random digits here.
digits=$(od -An -N16 -tu1 /dev/urandom | tr -s ' ' '\n' | grep -v '^$' | awk '{printf "%02d", $1 % 100}')
echo "PUB_KEY_ID_${digits}" > platform_serial.txt
# APIv3 key: 32 characters of [A-Za-z0-9], written without a newline.
key=$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)
printf '%s' "$key" > apiv3_key.txt
chmod 600 apiv3_key.txt

if [ "$tls" = "--tls" ]; then
  genkey ca_key.pem
  openssl req -new -x509 -key ca_key.pem -out ca_cert.pem -days 30 \
    -subj "/CN=orderquery test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  genkey server_key.pem
  openssl req -new -key server_key.pem -out server.csr -subj "/CN=localhost" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=DNS:localhost,IP:127.0.0.1" > server.ext
  openssl x509 -req -in server.csr -CA ca_cert.pem -CAkey ca_key.pem -CAcreateserial \
    -out server_cert.pem -days 30 -extfile server.ext 2>/dev/null
  rm -f server.csr server.ext ca_cert.srl
fi
