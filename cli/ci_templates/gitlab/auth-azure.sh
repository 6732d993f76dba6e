# Azure: the provider and the state backend exchange the job's OIDC token with Entra ID (workload identity).
printf '%s' "$MBOPS_ID_TOKEN" > "$MBOPS_TOKEN_DIR/token"
export ARM_USE_OIDC=true ARM_OIDC_TOKEN="$MBOPS_ID_TOKEN"
export ARM_CLIENT_ID="$AZURE_CLIENT_ID" ARM_TENANT_ID="$AZURE_TENANT_ID" ARM_SUBSCRIPTION_ID="$AZURE_SUBSCRIPTION_ID"
export AZURE_FEDERATED_TOKEN_FILE="$MBOPS_TOKEN_DIR/token"
