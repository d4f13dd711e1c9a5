#!/usr/bin/env bash
# Creates a cluster CA and one certificate per identity, for mutual TLS
# between leafguard nodes, consoles and clients (--tls-cert, --tls-key,
# --tls-ca).
#
#   scripts/make-certs.sh DIR [--role ROLE] NAME... [--role ROLE NAME...]
#
# A certificate names one identity: its subject's CN is NAME and its OU is
# ROLE. A node's NAME is the address the others dial, "host:port"; ROLE is
# aggregator (for master-aggregator and aggregator), leaf, console or client.
# A node refuses to start on a certificate that is not its own, and the
# others refuse a node whose hello its certificate does not prove.
# NAMEs before any --role are consoles.
#
# DIR/ca.pem and DIR/ca.key are the CA (created once, reused afterwards);
# DIR/NAME.pem and DIR/NAME.key are an identity's certificate and key,
# signed by the CA. Keep ca.key off the nodes.
set -euo pipefail
if [ $# -lt 2 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
command -v openssl > /dev/null || {
  echo "make-certs: the openssl command is missing (apt-get install openssl)" >&2
  exit 1
}
dir=$1
shift
mkdir -p "$dir"
umask 077
if [ ! -f "$dir/ca.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
    -subj "/CN=leafguard cluster CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2> /dev/null
  echo "make-certs: created CA $dir/ca.pem"
fi
role=console
made=0
while [ $# -gt 0 ]; do
  case $1 in
    --role)
      [ $# -ge 2 ] || { echo "make-certs: --role needs a value" >&2; exit 2; }
      case $2 in
        aggregator | leaf | console | client) role=$2 ;;
        *)
          echo "make-certs: role '$2' is not aggregator, leaf, console or client" >&2
          exit 2
          ;;
      esac
      shift 2
      continue
      ;;
    -*)
      echo "make-certs: unknown option '$1'" >&2
      exit 2
      ;;
  esac
  name=$1
  shift
  case $name in
    */* | "")
      echo "make-certs: name '$name' cannot be a file name" >&2
      exit 2
      ;;
  esac
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$name/OU=$role" \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" 2> /dev/null
  # A node's host is also a subjectAltName, so that clients that check the
  # server's name (MySQL drivers with TLS) accept the node's certificate.
  host=${name%:*}
  if [[ $host =~ ^[0-9.]+$ ]]; then san="IP:$host"; else san="DNS:$host"; fi
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" \
    -CAkey "$dir/ca.key" -CAcreateserial -days 825 -sha256 \
    -extfile <(printf 'subjectAltName=%s\n' "$san") \
    -out "$dir/$name.pem" 2> /dev/null
  rm -f "$dir/$name.csr"
  echo "make-certs: created $dir/$name.pem and $dir/$name.key ($role $name, signed by the CA)"
  made=$((made + 1))
done
[ $made -gt 0 ] || { echo "make-certs: no NAME given" >&2; exit 2; }
