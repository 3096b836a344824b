#!/usr/bin/env bash
# A throwaway MariaDB for tests and demos.
#
#   mariadb.sh start DIR   install a fresh datadir in DIR/data, start mariadbd on 127.0.0.1 at a
#                          free port (socket in DIR), create a password user, write DIR/env
#   mariadb.sh restart DIR start that server again on its existing datadir, port and socket
#                          (after it was killed; tests/chaos kills it with SIGKILL)
#   mariadb.sh stop DIR    shut that server down and remove DIR
#
# DIR/env has one key=value a line: host, port, user, password, socket (and database=, empty).
# DIR/client.cnf is a [client] option file for `mariadb --defaults-file=DIR/client.cnf`.
# Works as root (mariadbd then needs --user=root) or as any user. --no-defaults everywhere so
# that no system option file, system socket or system server is ever read or touched.
set -euo pipefail

die() { echo "mariadb.sh: $*" >&2; exit 1; }

[[ $# -eq 2 ]] || die "usage: mariadb.sh start|restart|stop DIR"
cmd=$1
dir=$2

find_bin() {
  local name
  for name in "$@"; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    # Debian keeps the server in sbin, which a non-root PATH often lacks.
    for prefix in /usr/sbin /usr/local/sbin /usr/libexec; do
      if [[ -x $prefix/$name ]]; then echo "$prefix/$name"; return 0; fi
    done
  done
  return 1
}

# Pid of the server started in $dir, if it is still running.
running_pid() {
  local pid_file=$1/mariadbd.pid pid
  [[ -s $pid_file ]] || return 1
  pid=$(<"$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

stop_server() {
  local d=$1 pid i
  if pid=$(running_pid "$d"); then
    kill -TERM "$pid" 2>/dev/null || true
    # A clean InnoDB shutdown of a tiny datadir takes well under a second; allow 30.
    for ((i = 0; i < 300; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "mariadb.sh: mariadbd $pid ignored SIGTERM for 30s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  # The socket may live in a short temporary directory (see below).
  if [[ -s $d/socket_dir ]]; then
    rm -rf -- "$(<"$d/socket_dir")"
  fi
}

port_in_use() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

pick_port() {
  # Stay below the kernel's ephemeral range so that outgoing connections never hold our port.
  local low=32768 port i
  if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range || low=32768
  fi
  local first=20000 span
  if ((low - first < 1000)); then first=10000; fi
  span=$((low - first))
  ((span > 0)) || span=10000
  for ((i = 0; i < 100; i++)); do
    port=$((first + (RANDOM * 32768 + RANDOM) % span))
    if ! port_in_use "$port"; then echo "$port"; return 0; fi
  done
  die "no free loopback port found"
}

random_password() {
  od -An -tx1 -N18 /dev/urandom | tr -d ' \n'
}

# launch MARIADBD DIR PORT SOCKET: starts the server on DIR/data in the background, prints its pid.
launch() {
  local mariadbd=$1 d=$2 port=$3 sock=$4 user_args=()
  if [[ $(id -u) -eq 0 ]]; then
    user_args=(--user=root)
  fi
  # setsid + closed stdio: the caller (ctest, a demo script) must not wait on our pipes.
  setsid "$mariadbd" --no-defaults "${user_args[@]}" \
    --datadir="$d/data" --tmpdir="$d/tmp" --socket="$sock" --pid-file="$d/mariadbd.pid" \
    --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
    --log-error="$d/error.log" --skip-log-bin \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --default-time-zone=+00:00 --max-connections=500 \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=32M \
    --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 \
    --innodb-use-native-aio=0 \
    </dev/null >>"$d/mariadbd.out" 2>&1 &
  local pid=$!
  disown "$pid" 2>/dev/null || true
  echo "$pid"
}

# The value of KEY in DIR/env.
env_value() {
  sed -n "s/^$2=//p" "$1/env" | head -n 1
}

# Starts the server of DIR again on its existing datadir, port and socket (after it was killed:
# InnoDB recovers what was committed). The chaos suite kills mariadbd with SIGKILL and calls this.
restart() {
  local d=$1 mariadbd admin port sock pid i
  [[ -s $d/env && -d $d/data ]] || die "no server was started in $d (mariadb.sh start DIR first)"
  d=$(cd "$d" && pwd)
  mariadbd=$(find_bin mariadbd mysqld) || die "mariadbd not found (install mariadb-server)"
  admin=$(find_bin mariadb-admin mysqladmin) || die "mariadb-admin not found (install mariadb-client)"
  if pid=$(running_pid "$d") && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
    die "mariadbd $pid of $d is still running"
  fi
  port=$(env_value "$d" port)
  sock=$(env_value "$d" socket)
  rm -f "$d/mariadbd.pid" "$sock"
  pid=$(launch "$mariadbd" "$d" "$port" "$sock")
  # Crash recovery of a small datadir takes seconds; a port still held elsewhere fails fast.
  for ((i = 0; i < 600; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$d/error.log" >&2 || true
      die "mariadbd exited during restart (log above)"
    fi
    if "$admin" --defaults-file="$d/client.cnf" --protocol=tcp --connect-timeout=2 ping >/dev/null 2>&1; then
      [[ -s $d/mariadbd.pid ]] || echo "$pid" >"$d/mariadbd.pid"
      echo "mariadb.sh: mariadbd (pid $(<"$d/mariadbd.pid")) restarted on 127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  tail -n 30 "$d/error.log" >&2 || true
  die "mariadbd did not answer within 60s of its restart (log above)"
}

start() {
  local d=$1
  local install_db mariadbd admin
  install_db=$(find_bin mariadb-install-db mysql_install_db) || die "mariadb-install-db not found (install mariadb-server)"
  mariadbd=$(find_bin mariadbd mysqld) || die "mariadbd not found (install mariadb-server)"
  admin=$(find_bin mariadb-admin mysqladmin) || die "mariadb-admin not found (install mariadb-client)"

  # A previous run that was interrupted may have left its server behind: stop it first.
  if [[ -d $d ]]; then
    stop_server "$d"
    rm -rf -- "$d"
  fi
  mkdir -p "$d"
  d=$(cd "$d" && pwd)
  mkdir -p "$d/tmp"
  chmod 700 "$d"

  # Unix socket paths are limited to 107 bytes; fall back to a short temporary directory.
  local sock=$d/mariadb.sock
  if (( ${#sock} > 100 )); then
    local sdir
    sdir=$(mktemp -d "${TMPDIR:-/tmp}/oqdb.XXXXXX")
    echo "$sdir" >"$d/socket_dir"
    sock=$sdir/mariadb.sock
  fi

  local user_args=()
  if [[ $(id -u) -eq 0 ]]; then
    user_args=(--user=root)
  fi

  local user=oq_test password
  password=$(random_password)
  # Runs inside the bootstrap, so the test account exists before the server listens anywhere.
  # The bootstrap runs with the grant tables unloaded; FLUSH PRIVILEGES loads them so that
  # account statements work.
  cat >"$d/init.sql" <<SQL
FLUSH PRIVILEGES;
CREATE USER '$user'@'%' IDENTIFIED BY '$password';
CREATE USER '$user'@'localhost' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO '$user'@'%' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$user'@'localhost' WITH GRANT OPTION;
SQL
  chmod 600 "$d/init.sql"

  # Its own tmpdir for the bootstrap too: two instances bootstrapping at once in the shared /tmp
  # have failed on each other's temporary tables ("Could not remove temporary table").
  if ! "$install_db" --no-defaults "${user_args[@]}" --datadir="$d/data" --tmpdir="$d/tmp" \
      --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
      --extra-file="$d/init.sql" >"$d/install.log" 2>&1; then
    cat "$d/install.log" >&2
    die "mariadb-install-db failed (log above)"
  fi
  rm -f "$d/init.sql"

  local client_cnf=$d/client.cnf
  local attempt port pid i up
  for ((attempt = 0; attempt < 5; attempt++)); do
    port=$(pick_port)
    pid=$(launch "$mariadbd" "$d" "$port" "$sock")
    echo "$pid" >"$d/mariadbd.pid.launch"

    cat >"$client_cnf" <<CNF
[client]
host=127.0.0.1
port=$port
user=$user
password=$password
socket=$sock
CNF
    chmod 600 "$client_cnf"

    up=0
    for ((i = 0; i < 300; i++)); do
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if "$admin" --defaults-file="$client_cnf" --protocol=tcp --connect-timeout=2 ping >/dev/null 2>&1; then
        up=1
        break
      fi
      sleep 0.1
    done
    if ((up)); then break; fi
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      tail -n 30 "$d/error.log" >&2 || true
      die "mariadbd did not answer within 30s (log above)"
    fi
    # Died: most likely someone took the port between the check and the bind. Try another.
    if ! grep -qi 'address already in use\|bind on tcp' "$d/error.log" 2>/dev/null; then
      tail -n 30 "$d/error.log" >&2 || true
      die "mariadbd exited during start-up (log above)"
    fi
    : >"$d/error.log"
  done
  ((up)) || die "could not start mariadbd on a free port after 5 attempts"

  # The server's own pid file is written at start-up; keep the launch pid as the fallback.
  if [[ ! -s $d/mariadbd.pid ]]; then mv "$d/mariadbd.pid.launch" "$d/mariadbd.pid"; else rm -f "$d/mariadbd.pid.launch"; fi

  umask 077
  cat >"$d/env" <<ENV
host=127.0.0.1
port=$port
user=$user
password=$password
socket=$sock
ENV
  echo "mariadb.sh: mariadbd (pid $(<"$d/mariadbd.pid")) listening on 127.0.0.1:$port, socket $sock; connection file $d/env"
}

case $cmd in
  start) start "$dir" ;;
  restart) restart "$dir" ;;
  stop)
    if [[ -d $dir ]]; then
      stop_server "$dir"
      rm -rf -- "$dir"
    fi
    echo "mariadb.sh: stopped and removed $dir"
    ;;
  *) die "unknown command '$cmd' (start|restart|stop)" ;;
esac
