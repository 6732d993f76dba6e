# GCP: an external-account credential file: Google's STS exchanges the job's OIDC token, then impersonates the
# deploy service account.
printf '%s' "$MBOPS_ID_TOKEN" > "$MBOPS_TOKEN_DIR/token"
cat > "$MBOPS_TOKEN_DIR/credentials.json" <<JSON
{"type": "external_account",
 "audience": "//iam.googleapis.com/$GCP_WORKLOAD_IDENTITY_PROVIDER",
 "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
 "token_url": "https://sts.googleapis.com/v1/token",
 "credential_source": {"file": "$MBOPS_TOKEN_DIR/token"},
 "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/$GCP_DEPLOY_SERVICE_ACCOUNT:generateAccessToken"}
JSON
export GOOGLE_APPLICATION_CREDENTIALS="$MBOPS_TOKEN_DIR/credentials.json"
