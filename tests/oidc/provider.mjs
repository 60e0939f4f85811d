// A real OpenID provider (the npm package oidc-provider) answering like ProConnect, for the
// console's sign-in tests (tests/web/test_proconnect.py): authorization code flow with PKCE
// required, ProConnect's scopes and claims, acr eidas1, the userinfo answered as a signed JWT
// (application/jwt), RP-initiated logout with id_token_hint. Its sign-in form is oidc-provider's
// development one: any login, whose value is the account's id (an email here), and any password.
//
// Settings (environment): OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI,
// OIDC_POST_LOGOUT_URI. It prints "ready" once it listens.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;

// ProConnect's claims, by scope (its documentation for service providers).
const claims = {
  openid: ['sub'],
  email: ['email'],
  given_name: ['given_name'],
  usual_name: ['usual_name'],
  siret: ['siret'],
  organizational_unit: ['organizational_unit'],
  uid: ['uid'],
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.OIDC_CLIENT_ID,
    client_secret: process.env.OIDC_CLIENT_SECRET,
    redirect_uris: [process.env.OIDC_REDIRECT_URI],
    post_logout_redirect_uris: [process.env.OIDC_POST_LOGOUT_URI],
    id_token_signed_response_alg: 'RS256',
    userinfo_signed_response_alg: 'RS256',
  }],
  claims,
  scopes: Object.keys(claims),
  acrValues: ['eidas1'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    jwtUserinfo: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // ProConnect asks nothing at sign-out: the confirmation form is sent at once.
      async logoutSource(ctx, form) {
        ctx.body = `<!DOCTYPE html><html><body>${form}<script>
          const f = document.forms[0];
          const yes = document.createElement('input');
          yes.type = 'hidden'; yes.name = 'logout'; yes.value = 'yes';
          f.appendChild(yes); f.submit();
        </script></body></html>`;
      },
    },
  },
  async findAccount(ctx, id) {
    const [first] = id.split('@')[0].split('.');
    return {
      accountId: id,
      async claims() {
        return {
          sub: `sub-${Buffer.from(id).toString('hex')}`,
          email: id,
          given_name: first,
          usual_name: 'Agent',
          siret: '22670001300019',
          organizational_unit: 'Accompagnement global',
          uid: id,
        };
      },
    };
  },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
});
provider.proxy = false;

provider.listen(port, '127.0.0.1', () => console.log('ready'));
