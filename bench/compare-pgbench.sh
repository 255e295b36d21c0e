#!/usr/bin/env bash
# paybot's ledger against pgbench's built-in TPC-B-like script, on the local
# PostgreSQL, for the same duration, both with durable commits.
#
#   bench/compare-pgbench.sh [SECS]        (default 30)
#
# 1. Prints the server's synchronous_commit and fsync (both must be on).
# 2. pgbench -i -s 10 into a scratch database, then its TPC-B-like script
#    (a balance-transfer transaction) with 8 clients: -c 8 -j 2 -T SECS.
#    A server on this machine is reached without TLS, as paybot reaches it
#    (PGSSLMODE=disable, unless PGSSLMODE is set or the url names an sslmode).
# 3. paybot bench ledger --backend postgres for SECS (release build), on a
#    scratch database it makes and drops itself.
# 4. Prints both rates and their ratio.
#
# Environment: PAYBOT_BENCH_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432, no database part), ACCOUNTS (paybot
# wallets, default 10000), CONCURRENCY (paybot submitters, default 64),
# PAYBOT (a paybot binary to use instead of building target/release/paybot).
set -euo pipefail

secs="${1:-30}"
server="${PAYBOT_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
accounts="${ACCOUNTS:-10000}"
concurrency="${CONCURRENCY:-64}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

case "$secs" in
'' | *[!0-9]*) echo "usage: $0 [SECS]" >&2; exit 2 ;;
esac

# paybot reaches a server on this machine without TLS unless the url names
# an sslmode (README, "Settings"); pgbench, whose libpq would use TLS
# whenever the server offers it, is given the same, so that neither pays
# for TLS the other does not.
host="$(printf '%s' "$server" | sed -E 's#^[a-z]+://([^@/]*@)?(\[[^]]*\]|[^:/?]*).*#\2#')"
case "$server" in
*sslmode=* | *ssl-mode=*) ;;
*)
    case "$host" in
    127.* | localhost | '[::1]') export PGSSLMODE="${PGSSLMODE:-disable}" ;;
    esac
    ;;
esac

sql() { psql "$server/postgres" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

sync_commit="$(sql 'SHOW synchronous_commit')"
fsync="$(sql 'SHOW fsync')"
echo "PostgreSQL: synchronous_commit=$sync_commit fsync=$fsync"
echo "pgbench's sslmode: ${PGSSLMODE:-prefer (the default)}"
if [ "$sync_commit" != on ] || [ "$fsync" != on ]; then
    echo "not durable: both must be on for a fair comparison" >&2
    exit 1
fi

if [ -n "${PAYBOT:-}" ]; then
    paybot="$PAYBOT"
else
    echo "building paybot (release)..."
    cargo build --release --bin paybot --manifest-path "$root/Cargo.toml" >&2
    paybot="$root/target/release/paybot"
fi

db="paybot_pgbench_$$"
sql "CREATE DATABASE $db"
trap 'sql "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true' EXIT

echo "pgbench -i -s 10 ..."
pgbench -i -s 10 -q "$server/$db" 2>&1 | tail -n 1
echo "pgbench -c 8 -j 2 -T $secs (TPC-B-like) ..."
pgbench_out="$(pgbench -c 8 -j 2 -T "$secs" "$server/$db" 2>&1)"
echo "$pgbench_out" | grep -E '^(transaction type|number of clients|number of transactions actually processed|latency average|tps)'
pgbench_tps="$(echo "$pgbench_out" | awk '/^tps = / { print $3; exit }')"
sql "DROP DATABASE IF EXISTS $db WITH (FORCE)"
trap - EXIT

echo "paybot bench ledger --backend postgres --duration $secs --accounts $accounts --concurrency $concurrency ..."
paybot_out="$("$paybot" bench ledger --backend postgres --url "$server" \
    --duration "$secs" --accounts "$accounts" --concurrency "$concurrency")"
echo "$paybot_out"
paybot_tps="$(echo "$paybot_out" | awk '/^throughput: .* transfers\/s/ { print $2; exit }')"

if [ -z "$pgbench_tps" ] || [ -z "$paybot_tps" ]; then
    echo "could not read a rate (pgbench: '$pgbench_tps', paybot: '$paybot_tps')" >&2
    exit 1
fi
echo
printf 'pgbench TPC-B-like:   %10.0f transactions/s (8 clients)\n' "$pgbench_tps"
printf 'paybot ledger:        %10.0f transfers/s (%s submitters)\n' "$paybot_tps" "$concurrency"
awk -v a="$paybot_tps" -v b="$pgbench_tps" 'BEGIN { printf "ratio paybot/pgbench: %10.2fx\n", a / b }'
if ! echo "$paybot_out" | grep -q '^invariants: OK'; then
    echo "paybot's invariant check FAILED" >&2
    exit 1
fi
