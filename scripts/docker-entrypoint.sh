#!/bin/sh
# Entrypoint of the Redust image, behaving like the official redis image's:
#  - options or a *.conf as the first argument mean "redis-server <args>";
#  - started as root, it hands the data directory to the redis user and
#    re-executes itself as that user (setpriv, from util-linux);
#  - files are private to that user (umask 0077) unless a umask was set;
#  - protected-mode is off unless the arguments or a config file set it,
#    so other containers can connect, as with the official image.
# REDIS_USER names the unprivileged user (default: redis).
set -e

user="${REDIS_USER:-redis}"

case "$1" in
    -* | *.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user "$user" -exec chown "$user" '{}' +
    exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups "$0" "$@"
fi

if [ "$1" = redis-server ]; then
    has_conf=no
    case "$2" in *.conf) has_conf=yes ;; esac
    has_pm=no
    for a in "$@"; do
        [ "$a" = --protected-mode ] && has_pm=yes
    done
    if [ "$has_conf" = no ] && [ "$has_pm" = no ]; then
        set -- "$@" --protected-mode no
    fi
fi

if [ "$(umask)" = 0022 ]; then
    umask 0077
fi

exec "$@"
