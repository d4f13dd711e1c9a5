#!/usr/bin/env bash
# Creates a cluster CA and one certificate per node, for mutual TLS between
# leafguard nodes and consoles (--tls-cert, --tls-key, --tls-ca).
#
#   scripts/make-certs.sh DIR [NAME...]
#
# DIR/ca.pem and DIR/ca.key are the CA (created once, reused afterwards);
# DIR/NAME.pem and DIR/NAME.key are a node's certificate and key, signed by
# the CA. NAME defaults to "node". Keep ca.key off the nodes.
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
command -v openssl > /dev/null || {
  echo "make-certs: the openssl command is missing (apt-get install openssl)" >&2
  exit 1
}
dir=$1
shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(node)
mkdir -p "$dir"
umask 077
if [ ! -f "$dir/ca.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
    -subj "/CN=leafguard cluster CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2> /dev/null
  echo "make-certs: created CA $dir/ca.pem"
fi
for name in "${names[@]}"; do
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$name" \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" 2> /dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" \
    -CAkey "$dir/ca.key" -CAcreateserial -days 825 -sha256 \
    -out "$dir/$name.pem" 2> /dev/null
  rm -f "$dir/$name.csr"
  echo "make-certs: created $dir/$name.pem and $dir/$name.key (signed by the CA)"
done
