#!/usr/bin/env bash
# Contract tests of ferry-bridge's plugin API (contracts.md section 3) that
# need no kernel state: info, create (keeps name/id/driver and unknown fields,
# completes the rest, rejects bad input naming the field), the error shape
# ({"error":...} on stdout, non-zero exit, message on stderr), bad commands.
. "$(dirname "$0")/../lib/common.sh"
B=${FERRY_BRIDGE:?FERRY_BRIDGE must name the built ferry-bridge}
export FERRY_BRIDGE_STATE_DIR="$FT_TMP/state"

# jget JSON PYEXPR: evaluates PYEXPR with j bound to the parsed JSON.
jget() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

# run CMD... < stdin: sets OUT, ERR, RC.
run() {
  set +e
  OUT=$("$@" 2>"$FT_TMP/stderr"); RC=$?
  set -e
  ERR=$(cat "$FT_TMP/stderr")
}

# expect_error "what" "field prefix" CMD...: error JSON naming the field.
expect_error() {
  local what=$1 prefix=$2; shift 2
  run "$@"
  ft_check "$what: non-zero exit" [ "$RC" -ne 0 ]
  local msg
  msg=$(jget "$OUT" 'j["error"] if list(j.keys()) == ["error"] else "NOT-AN-ERROR-OBJECT"' 2>/dev/null || echo "NOT-JSON: $OUT")
  ft_check "$what: error names '$prefix' (got: $msg)" [ "${msg#"$prefix"}" != "$msg" ]
  ft_check "$what: message also on stderr" grep -qF -- "$msg" "$FT_TMP/stderr"
}

# --- info -------------------------------------------------------------------
run "$B" info
ft_expect_eq "info exits 0" 0 "$RC"
ft_expect_eq "info api_version" 1.0.0 "$(jget "$OUT" 'j["api_version"]')"
ft_check "info has a version" [ -n "$(jget "$OUT" 'j["version"]')" ]
run "$B"
ft_expect_eq "no arguments prints info too" 1.0.0 "$(jget "$OUT" 'j["api_version"]')"

# --- create -----------------------------------------------------------------
NET='{"name":"mynet","id":"2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9","driver":"ferry-bridge",
 "created":"2023-05-01T10:00:00.1Z","labels":{"team":"a"},"network_interface":"",
 "subnets":[{"subnet":"10.89.0.0/24"},{"subnet":"fd10:89::/64","gateway":"fd10:89::fe"}],
 "ipv6_enabled":false,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"},"options":{"mtu":"1400"}}'
run "$B" create <<<"$NET"
ft_expect_eq "create exits 0" 0 "$RC"
ft_expect_eq "create keeps name" mynet "$(jget "$OUT" 'j["name"]')"
ft_expect_eq "create keeps id" "$(jget "$NET" 'j["id"]')" "$(jget "$OUT" 'j["id"]')"
ft_expect_eq "create keeps driver" ferry-bridge "$(jget "$OUT" 'j["driver"]')"
ft_expect_eq "create keeps unknown fields" "2023-05-01T10:00:00.1Z a" "$(jget "$OUT" 'j["created"]+" "+j["labels"]["team"]')"
ft_expect_eq "create names the bridge" fbr2f259bab93aa "$(jget "$OUT" 'j["network_interface"]')"
ft_expect_eq "create fills the IPv4 gateway" 10.89.0.1 "$(jget "$OUT" 'j["subnets"][0]["gateway"]')"
ft_expect_eq "create keeps a given gateway" fd10:89::fe "$(jget "$OUT" 'j["subnets"][1]["gateway"]')"
ft_expect_eq "create sets ipv6_enabled" True "$(jget "$OUT" 'j["ipv6_enabled"]')"
ft_expect_eq "create keeps options" 1400 "$(jget "$OUT" 'j["options"]["mtu"]')"
# The completed network is accepted again unchanged (podman may re-create).
run "$B" create <<<"$OUT"
ft_expect_eq "create is stable on its own output" "$(jget "$NET" 'j["id"]')" "$(jget "$OUT" 'j["id"]')"

# mutate PYSTMT: prints NET changed by a python statement on j.
mutate() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); exec(sys.argv[2]); print(json.dumps(j))' "$NET" "$1"; }

expect_error "not JSON" "input is not valid JSON" "$B" create <<<'{"name":'
expect_error "not an object" "input: expected an object" "$B" create <<<'[1,2]'
expect_error "missing name" "name: missing required field" "$B" create <<<"$(mutate 'del j["name"]')"
expect_error "missing id" "id: missing required field" "$B" create <<<"$(mutate 'del j["id"]')"
expect_error "driver of wrong type" "driver: expected a string" "$B" create <<<"$(mutate 'j["driver"]=3')"
expect_error "no subnets" "subnets: at least one subnet" "$B" create <<<"$(mutate 'j["subnets"]=[]')"
expect_error "subnet not CIDR" "subnets[0].subnet:" "$B" create <<<"$(mutate 'j["subnets"][0]["subnet"]="10.89.0.0"')"
expect_error "subnet with host bits" "subnets[0].subnet: 10.89.0.7/24: host bits" "$B" create <<<"$(mutate 'j["subnets"][0]["subnet"]="10.89.0.7/24"')"
expect_error "gateway outside subnet" "subnets[0].gateway: 10.90.0.1 is not in subnet" "$B" create <<<"$(mutate 'j["subnets"][0]["gateway"]="10.90.0.1"')"
expect_error "lease range outside subnet" "subnets[1].lease_range.end_ip" "$B" create <<<"$(mutate 'j["subnets"][1]["lease_range"]={"end_ip":"fd11::9"}')"
expect_error "overlapping subnets" "subnets[1].subnet" "$B" create <<<"$(mutate 'j["subnets"][1]["subnet"]="10.89.0.0/25"')"
expect_error "unsupported option" "options.vlan: unsupported option" "$B" create <<<"$(mutate 'j["options"]["vlan"]="5"')"
expect_error "unsupported ipam driver" "ipam_options.driver" "$B" create <<<"$(mutate 'j["ipam_options"]["driver"]="dhcp"')"
expect_error "bad bridge name" "network_interface:" "$B" create <<<"$(mutate 'j["network_interface"]="this-name-is-too-long"')"

# --- commands ----------------------------------------------------------------
expect_error "unknown subcommand" "unknown subcommand: frobnicate" "$B" frobnicate </dev/null
expect_error "setup without netns" "netns path argument is missing" "$B" setup </dev/null
expect_error "teardown without netns" "netns path argument is missing" "$B" teardown </dev/null
EXEC="{\"container_id\":\"c1\",\"container_name\":\"a\",\"network\":$NET,\"network_options\":{\"interface_name\":\"eth0\"}}"
expect_error "setup into a missing netns" "cannot open network namespace" "$B" setup "$FT_TMP/no-such-netns" <<<"$EXEC"
expect_error "setup input missing network_options" "network_options: missing required field" \
  "$B" setup "$FT_TMP/no-such-netns" <<<"{\"container_id\":\"c1\",\"container_name\":\"a\",\"network\":$NET}"

ft_done
