# mbops_diff NAME FILE PREVIEW-ARGS...: plan one stack on the base and on the head checkouts offline (the embedded
# engine: no cloud credentials), then write the diff as Markdown to $MBOPS_OUT/NAME.md. FILE is the stack file
# (empty: the stack comes from flags); a stack file that is new in this change is diffed against nothing.
# Stacks whose head has a mandatory policy finding are added to $failed.
failed=""
mbops_diff() {
  local name="$1" file="$2"
  shift 2
  local out="$MBOPS_OUT/$name"
  if [ -z "$file" ] || [ -f "$MBOPS_BASE_DIR/$file" ]; then
    (cd "$MBOPS_BASE_DIR" && mbops preview --engine embedded "$@" --json) > "$out.base.json"
  else
    : > "$out.base.json"
  fi
  (cd "$MBOPS_HEAD_DIR" && mbops preview --engine embedded "$@" --json) > "$out.head.json"
  local rc=0
  mbops diff "$out.base.json" "$out.head.json" --format markdown --output "$out.md" \
    --base-label "$MBOPS_BASE_LABEL" --head-label "$MBOPS_HEAD_LABEL" --fail-on mandatory || rc=$?
  case "$rc" in
    0) ;;
    3) failed="$failed $name" ;;
    *) echo "mbops diff of $name failed (exit $rc)" >&2; return "$rc" ;;
  esac
}
mkdir -p "$MBOPS_OUT"
