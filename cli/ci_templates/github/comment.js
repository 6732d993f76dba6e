// Post each stack's diff as one pull-request comment, updated in place on every push: the comment is found by
// the hidden marker on its first line. Every diff also goes to the job summary.
const fs = require('fs');
const path = require('path');
const dir = process.env.MBOPS_OUT;
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.md')).sort() : [];
const { owner, repo } = context.repo;
const issue_number = context.issue.number;
const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number, per_page: 100 });
for (const file of files) {
  const body = fs.readFileSync(path.join(dir, file), 'utf8');
  await core.summary.addRaw(body, true).write();
  const marker = body.split('\n', 1)[0];
  const mine = comments.find((c) => c.user && c.user.type === 'Bot' && (c.body || '').startsWith(marker));
  try {
    if (mine) {
      await github.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body });
    } else {
      await github.rest.issues.createComment({ owner, repo, issue_number, body });
    }
  } catch (error) {
    // A pull request from a fork gets a read-only token: the diff stays in the job summary.
    core.warning(`mbops: could not post the diff comment for ${file} (${error.status}): ${error.message}`);
  }
}
