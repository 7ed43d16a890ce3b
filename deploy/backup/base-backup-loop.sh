#!/usr/bin/env bash
# Compose `backup` service: a compressed base backup now and then every
# BACKUP_INTERVAL_S seconds into /backups/<UTC time>/, keeping the newest
# BACKUP_KEEP and the archived WAL still needed by the oldest kept one.
# Connection from PGHOST/PGUSER/PGPASSWORD. See deploy/backup/README.md.
set -euo pipefail
INTERVAL=${BACKUP_INTERVAL_S:-86400}
KEEP=${BACKUP_KEEP:-7}
while true; do
    dest=/backups/$(date -u +%Y%m%dT%H%M%SZ)
    echo "base backup -> $dest"
    if pg_basebackup -D "$dest" -Ft -z -X stream -c fast --label "jowi $(date -u +%FT%TZ)"; then
        # Oldest first; keep the newest $KEEP.
        mapfile -t all < <(find /backups -mindepth 1 -maxdepth 1 -type d | sort)
        for ((i = 0; i < ${#all[@]} - KEEP; i++)); do rm -rf "${all[$i]}"; done
        oldest=$(find /backups -mindepth 1 -maxdepth 1 -type d | sort | head -n 1)
        # WAL older than the oldest kept backup can no longer be used.
        start=$(tar -xzOf "$oldest/base.tar.gz" backup_label 2>/dev/null | awk '/START WAL LOCATION/ {gsub(/[()]/, "", $6); print $6}')
        [ -n "$start" ] && pg_archivecleanup /wal-archive "$start" || true
    else
        echo "base backup failed; retrying in 10 minutes" >&2
        sleep 600
        continue
    fi
    sleep "$INTERVAL"
done
