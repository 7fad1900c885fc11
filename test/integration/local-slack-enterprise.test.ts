import { enterpriseFromEnv } from '../../scripts/local/enterprise-env';

/** LOCAL_SLACK_ENTERPRISE, as `npm run dev` reads it before anything starts (issue 22 point 1). */
describe('LOCAL_SLACK_ENTERPRISE', () => {
  it('names the organisation the local stack plays an org-wide install of', () => {
    expect(enterpriseFromEnv({ LOCAL_SLACK_ENTERPRISE: ' E0LOCALORG1 ' })).toBe('E0LOCALORG1');
  });

  it('unset or blank, the stack is a single workspace', () => {
    expect(enterpriseFromEnv({})).toBeUndefined();
    expect(enterpriseFromEnv({ LOCAL_SLACK_ENTERPRISE: '  ' })).toBeUndefined();
  });

  it('a workspace id, or anything not E…, stops dev with one line naming the variable', () => {
    expect(() => enterpriseFromEnv({ LOCAL_SLACK_ENTERPRISE: 'T0LOCAL001' })).toThrow(
      'LOCAL_SLACK_ENTERPRISE must be a Slack organisation id starting with E; got "T0LOCAL001"',
    );
  });
});
