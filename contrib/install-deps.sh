#!/usr/bin/env bash
# Installs everything mailwarden needs to build, test and run its demo on Debian 12.
# Idempotent; run as root. Never configures or starts the system Postfix: its debconf
# answer is "No configuration", and the tests and demo run private instances.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (apt-get)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

case "$(dpkg --print-architecture)" in
  amd64) hs=libhyperscan-dev ;;
  *) hs=libvectorscan-dev ;;
esac

packages=(
  # build
  build-essential autoconf automake libtool pkg-config g++ clang
  # libraries (DESIGN.md, Dependencies)
  libmilter-dev libopendkim-dev libssl-dev libspf2-dev "$hs" libyaml-cpp-dev libunbound-dev libevent-dev
  libldns-dev libidn2-dev libexpected-dev libfmt-dev nlohmann-json3-dev libmicrohttpd-dev libgtest-dev libbenchmark-dev
  # DMARC aggregate reports (issue 20): the SQLite store, the XML report writer, gzip
  libsqlite3-dev libxml2-dev zlib1g-dev
  # DMARC aggregate reports shared by several MX hosts (issue 20): the Redis store
  libhiredis-dev
  # bench only: the PCRE2 comparison of bench/rules_bench.cpp
  libpcre2-dev
  # tests only: xmllint validates generated DMARC reports against the RFC 9990 schema
  libxml2-utils
  # tests only: the Redis report store's tests start their own redis-server
  redis-server
  # tests and demo: real MTAs, SMTP client, milter driver, DNS server
  postfix swaks miltertest nsd python3 procps iproute2 m4 sendmail-cf
  # SMTP AUTH in the bypass test (issue 19): Cyrus SASL with a sasldb2 (saslpasswd2)
  sasl2-bin libsasl2-modules
  # ARC (issue 18): dkimpy builds the mailing-list chains the tests verify and checks
  # the seals we add (arc_sign, arc_verify); python3-nacl gives it Ed25519, and
  # arc_sign needs python3-authres (only a Recommends of python3-dkim)
  python3-dkim python3-nacl python3-authres
  # tests only, for its examples/sample-spam.txt (the published GTUBE message,
  # tests/rules/sample_spam_test.sh). About 7.5 MB with its Perl modules; no daemon
  # (spamd is a separate package), its daily sa-update timer and cron job are off
  # unless enabled; it adds the system user debian-spamd.
  spamassassin
  # the Debian package and its check (tests/integration/deb_package_test.sh): make deb
  # (dpkg-buildpackage, debhelper with dh-autoreconf, fakeroot), lintian, git (make deb
  # lists the files to package), systemd-analyze (the unit's sandbox score), groff and
  # man (the manual pages render without warnings)
  dpkg-dev debhelper fakeroot lintian git systemd groff-base man-db
  # the metrics test (tests/integration/metrics_test.sh): curl scrapes the endpoint
  curl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

# tests only: promtool (`promtool check metrics` on a scrape, `promtool check rules` on
# contrib/prometheus/mailwarden-alerts.yml) comes only with Debian's prometheus package
# (about 96 MB installed; bookworm has no promtool-only package). Its postinst would
# start the Prometheus server through invoke-rc.d where no policy says otherwise (a CI
# container without systemd runs /etc/init.d/prometheus): a policy-rc.d that refuses
# every start (exit 101) is put in place for this install only, if none exists, so no
# server is left running and listening on :9090. The unit stays enabled for a systemd
# machine's next boot; disable it there if that is not wanted.
if ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q "install ok installed"; then
  policy=/usr/sbin/policy-rc.d
  placed=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# contrib/install-deps.sh: no service starts while prometheus installs\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    placed=1
  fi
  rc=0
  apt-get install -y --no-install-recommends prometheus || rc=$?
  if [ "$placed" = 1 ]; then
    rm -f "$policy"
  fi
  if [ "$rc" -ne 0 ]; then
    echo "install-deps.sh: installing prometheus (for promtool) failed; metrics_test.sh skips its promtool checks" >&2
  fi
fi
