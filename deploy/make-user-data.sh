#!/usr/bin/env bash
# Prints the EC2 user data (a shell script cloud-init runs once, as root, at the first boot of an
# Amazon Linux 2023 instance) that installs Docker, writes the configuration, the Caddyfile and
# /usr/local/bin/disaster-site (deploy/disaster-site.sh), schedules the daily backup, and starts
# the service. No secret goes into it: the instance reads them from SSM Parameter Store.
#
#   DOMAIN=tweets.example.com ACME_EMAIL=ops@example.com AWS_REGION=eu-west-1 \
#   IMAGE=123456789012.dkr.ecr.eu-west-1.amazonaws.com/disaster-site:1.0.0 \
#   BACKUP_BUCKET=example-disaster-site-backups deploy/make-user-data.sh >user-data.sh
#
# SSM_PREFIX (default /disaster-site): the parameters under it become the app's environment;
# empty: the instance expects /etc/disaster-site/secrets.env (mode 600) instead.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

die() {
  printf 'make-user-data: %s\n' "$*" >&2
  exit 1
}
: "${DOMAIN:?set DOMAIN, the name the service answers to (its DNS A record points to the instance)}"
: "${ACME_EMAIL:?set ACME_EMAIL, the address Let\'s Encrypt writes to about the certificate}"
: "${IMAGE:?set IMAGE, the app image to run (e.g. an ECR repository URI with a tag)}"
: "${AWS_REGION:?set AWS_REGION}"
BACKUP_BUCKET=${BACKUP_BUCKET:-}
SSM_PREFIX=${SSM_PREFIX-/disaster-site}

[[ $DOMAIN =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ && $DOMAIN == *.* ]] || die "DOMAIN=$DOMAIN is not a host name"
[[ $ACME_EMAIL =~ ^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$ ]] || die "ACME_EMAIL=$ACME_EMAIL is not an address"
[[ $IMAGE =~ ^[a-z0-9._/:@-]+$ ]] || die "IMAGE=$IMAGE is not an image reference"
[[ $AWS_REGION =~ ^[a-z0-9-]+$ ]] || die "AWS_REGION=$AWS_REGION is not a region"
[[ $BACKUP_BUCKET =~ ^[a-z0-9.-]*$ ]] || die "BACKUP_BUCKET=$BACKUP_BUCKET is not a bucket name"
[[ -z $SSM_PREFIX || $SSM_PREFIX =~ ^/[A-Za-z0-9_./-]+$ ]] || die "SSM_PREFIX=$SSM_PREFIX is not a parameter path"
[ -n "$BACKUP_BUCKET" ] || printf 'make-user-data: no BACKUP_BUCKET: no daily backup\n' >&2

EOF_MARK=__DISASTER_SITE_END_OF_FILE__
file() { # $1: destination, $2: mode, $3: source file in deploy/
  ! grep -qx "$EOF_MARK" "$here/$3" || die "$3 contains the line $EOF_MARK"
  printf "cat >%s <<'%s'\n" "$1" "$EOF_MARK"
  cat "$here/$3"
  printf '%s\nchmod %s %s\n\n' "$EOF_MARK" "$2" "$1"
}

cat <<EOF
#!/bin/bash
# EC2 user data for Disaster Tweets (Amazon Linux 2023), made by deploy/make-user-data.sh.
# Its output: /var/log/cloud-init-output.log on the instance.
set -euo pipefail
umask 022
install -d -m 755 /etc/disaster-site /srv/disaster-site

cat >/etc/disaster-site/config <<'$EOF_MARK'
DOMAIN=$DOMAIN
ACME_EMAIL=$ACME_EMAIL
IMAGE=$IMAGE
AWS_REGION=$AWS_REGION
BACKUP_BUCKET=$BACKUP_BUCKET
SSM_PREFIX=$SSM_PREFIX
$EOF_MARK

EOF
file /etc/disaster-site/Caddyfile 644 Caddyfile
file /usr/local/bin/disaster-site 755 disaster-site.sh
file /etc/systemd/system/disaster-site-backup.service 644 disaster-site-backup.service
file /etc/systemd/system/disaster-site-backup.timer 644 disaster-site-backup.timer
echo "dnf install -y docker"
echo "systemctl enable --now docker"
if [ -n "$BACKUP_BUCKET" ]; then
  echo "systemctl enable --now disaster-site-backup.timer"
else
  echo "# No BACKUP_BUCKET was given: no daily backup."
fi
echo "/usr/local/bin/disaster-site start"
