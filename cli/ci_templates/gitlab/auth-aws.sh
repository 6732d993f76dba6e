# AWS: the SDKs exchange the job's OIDC token for the deploy role's credentials (AssumeRoleWithWebIdentity).
printf '%s' "$MBOPS_ID_TOKEN" > "$MBOPS_TOKEN_DIR/token"
export AWS_WEB_IDENTITY_TOKEN_FILE="$MBOPS_TOKEN_DIR/token"
export AWS_ROLE_ARN="$AWS_DEPLOY_ROLE_ARN"
export AWS_ROLE_SESSION_NAME="mbops-$CI_PIPELINE_ID"
