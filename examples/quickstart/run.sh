#!/usr/bin/env bash
# Quickstart, no Wacht account needed: builds the provider and the local Wacht
# server, starts the server on a free loopback port, then applies, shows and
# destroys examples/quickstart/main.tf against it with Terraform 1.15.9.
# Everything happens in a temp dir, which is removed at the end, and the
# server is stopped even when a step fails.
#
#   examples/quickstart/run.sh      (or: make quickstart)
#
# Needs Go. On first run Terraform 1.15.9 is built from the Go module proxy
# (a few minutes) and cached; see .ci/install-clis.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

steps=6
banner() { # banner N TEXT
	printf '\n==> [%s/%s] %s\n' "$1" "$steps" "$2"
}
die() {
	printf '\nquickstart: FAILED: %s\n' "$*" >&2
	exit 1
}

work=""
server_pid=""
server_log=""

stop_server() {
	[ -n "$server_pid" ] || return 0
	if kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		# Give it a few seconds to shut down cleanly.
		for _ in $(seq 50); do
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$server_pid" 2>/dev/null || true
	fi
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$rc" -ne 0 ] && [ -n "$server_log" ] && [ -s "$server_log" ]; then
		printf '\nquickstart: local server output (last lines):\n' >&2
		tail -n 20 "$server_log" >&2 || true
	fi
	stop_server
	if [ -n "$work" ]; then
		rm -rf "$work"
	fi
	if [ "$rc" -ne 0 ]; then
		printf '\nquickstart: failed (exit %s); the server was stopped and the temp dir removed.\n' "$rc" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v go >/dev/null 2>&1 || die "Go is required (https://go.dev/dl/)"

# ---------------------------------------------------------------------------
banner 1 "Terraform 1.15.9 (built from the Go module proxy on first run, a few minutes)"
clienv="$(bash "$repo/.ci/install-clis" --print-env terraform)" || die "installing Terraform failed"
eval "$clienv"
terraform="$WACHT_TF_PATH"
"$terraform" version

# ---------------------------------------------------------------------------
banner 2 "Building the provider and the local Wacht server"
work="$(mktemp -d "${TMPDIR:-/tmp}/wacht-quickstart.XXXXXX")"
mkdir -p "$work/provider" "$work/bin" "$work/config"
(cd "$repo" && go build -o "$work/provider/terraform-provider-wacht" .) || die "building the provider failed"
(cd "$repo" && go build -o "$work/bin/wacht-server" ./internal/cmd/wacht-server) || die "building the local server failed"
echo "built into $work"

# ---------------------------------------------------------------------------
banner 3 "Starting the local Wacht server"

# free_port prints a loopback TCP port that nothing listens on right now.
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' && return 0
	fi
	local port
	for _ in $(seq 100); do
		port=$((20000 + RANDOM % 40000))
		# A refused connection means the port is free.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

server_log="$work/server.log"
started=false
# Another process may take the port between picking and binding: retry.
for attempt in 1 2 3 4 5; do
	port="$(free_port)" || die "found no free loopback port"
	: >"$server_log"
	# The server would adopt a WACHT_API_KEY from the environment; let it make
	# its own key instead, so a real key never reaches it.
	env -u WACHT_API_KEY "$work/bin/wacht-server" -addr "127.0.0.1:$port" >"$server_log" 2>&1 &
	server_pid=$!
	# Wait (up to 30s) for the settings lines.
	for _ in $(seq 300); do
		if grep -q '^WACHT_API_URL=' "$server_log" &&
			grep -q '^WACHT_API_KEY=' "$server_log" &&
			grep -q '^agent support-bot: ' "$server_log"; then
			started=true
			break
		fi
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	$started && break
	if kill -0 "$server_pid" 2>/dev/null; then
		die "the local server did not print its settings within 30s"
	fi
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
	echo "the server exited on port $port (attempt $attempt): $(tail -n 1 "$server_log")" >&2
done
$started || die "could not start the local server"

api_url="$(sed -n 's/^WACHT_API_URL=//p' "$server_log" | sed -n 1p)"
api_key="$(sed -n 's/^WACHT_API_KEY=//p' "$server_log" | sed -n 1p)"
agent_id="$(sed -n 's/^agent support-bot: //p' "$server_log" | sed -n 1p)"
[ -n "$api_url" ] && [ -n "$api_key" ] && [ -n "$agent_id" ] || die "could not read the server settings"
echo "server pid $server_pid, listening on $api_url"
echo "agent support-bot: $agent_id"

# ---------------------------------------------------------------------------
banner 4 "Pointing Terraform at the freshly built provider (dev_overrides)"
cat >"$work/terraformrc" <<EOF
provider_installation {
  dev_overrides {
    "wacht-platform/wacht" = "$work/provider"
  }
  direct {}
}
EOF
export TF_CLI_CONFIG_FILE="$work/terraformrc"
export WACHT_API_URL="$api_url"
export WACHT_API_KEY="$api_key"
export CHECKPOINT_DISABLE=1
export TF_IN_AUTOMATION=1
cat "$TF_CLI_CONFIG_FILE"
echo "WACHT_API_URL=$WACHT_API_URL"
echo "WACHT_API_KEY=(the local server's key)"

# Colors only on a terminal.
color=()
[ -t 1 ] || color=(-no-color)

# A temp copy of the configuration, so no state lands in the repo.
cp "$here"/*.tf "$work/config/"
cd "$work/config"

# ---------------------------------------------------------------------------
banner 5 "terraform apply, show and destroy (no init needed with dev_overrides)"
echo "+ terraform apply -auto-approve -var agent_id=$agent_id"
"$terraform" apply "${color[@]+"${color[@]}"}" -auto-approve -input=false -var "agent_id=$agent_id" || die "terraform apply failed"
echo
echo "+ terraform show"
"$terraform" show "${color[@]+"${color[@]}"}" || die "terraform show failed"
echo
echo "+ terraform destroy -auto-approve -var agent_id=$agent_id"
"$terraform" destroy "${color[@]+"${color[@]}"}" -auto-approve -input=false -var "agent_id=$agent_id" || die "terraform destroy failed"

# ---------------------------------------------------------------------------
banner 6 "Stopping the local server and removing the temp dir"
stop_server
cd "$repo"
rm -rf "$work"
work=""
echo
echo "Quickstart finished OK."
