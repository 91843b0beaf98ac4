#!/usr/bin/env bash
# kcli from a CI pipeline: validate, show the diff, apply under the cluster lock, wait for every
# rollout, verify the Services, and commit the state back. The GitHub Actions workflow and the
# GitLab pipeline beside this file run it; tests/e2e/test_ci_recipe.py runs it against the sandbox.
#
# Environment:
#   KCLI_MANIFESTS   file or directory of manifests (required)
#   KCLI_INVENTORY   the inventory (required); its state directory sits beside it unless KCLI_STATE
#   KCLI_STATE       the state directory (a git clone shared by every runner), optional
#   KCLI_SSH_KEY     a private key for the nodes, from a CI secret: written 0600 under $HOME/.ssh
#                    (the inventory's identity_file must point there), optional
#   KCLI_SET         newline-separated key=value pairs for *.j2 templates (Secret values from CI
#                    variables: never echoed), optional
#   KCLI_PUSH        1: `git push` the state after the commit, optional
#   KCLI             the kcli command (default: kcli)
set -euo pipefail
kcli=${KCLI:-kcli}
: "${KCLI_MANIFESTS:?set KCLI_MANIFESTS}" "${KCLI_INVENTORY:?set KCLI_INVENTORY}"
target=(-i "$KCLI_INVENTORY")
state=()
[ -n "${KCLI_STATE:-}" ] && state=(--state "$KCLI_STATE")
sets=()
while IFS= read -r kv; do [ -n "$kv" ] && sets+=(--set "$kv"); done <<< "${KCLI_SET:-}"
if [ -n "${KCLI_SSH_KEY:-}" ]; then
  install -m 700 -d "$HOME/.ssh"
  (umask 077; printf '%s\n' "$KCLI_SSH_KEY" > "$HOME/.ssh/kcli_ci_key")
fi

echo "== validate (client side, no cluster)"
$kcli apply --dry-run=client -R -f "$KCLI_MANIFESTS" "${sets[@]}"

echo "== diff"
set +e
$kcli diff -R -f "$KCLI_MANIFESTS" "${sets[@]}" "${target[@]}" "${state[@]}"
rc=$?
set -e
case $rc in
  0) echo "no change to apply" ;;
  1) echo "changes to apply" ;;
  *) exit "$rc" ;;
esac

echo "== apply"
$kcli apply -R -f "$KCLI_MANIFESTS" "${sets[@]}" "${target[@]}" "${state[@]}" --lock-wait 300

echo "== rollout status"
for kind in deployment daemonset statefulset; do
  for obj in $($kcli get "$kind" -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' "${target[@]}"); do
    $kcli rollout status "$kind/${obj#*/}" -n "${obj%%/*}" "${target[@]}" "${state[@]}"
  done
done

echo "== verify"
$kcli verify "${target[@]}"

echo "== converged: a second diff changes nothing"
$kcli diff -R -f "$KCLI_MANIFESTS" "${sets[@]}" "${target[@]}" "${state[@]}" >/dev/null

if [ "${KCLI_PUSH:-0}" = 1 ]; then
  dir=${KCLI_STATE:-$(dirname "$KCLI_INVENTORY")/state}
  git -C "$dir" push
fi
echo "== done"
