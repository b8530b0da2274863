//! The Cedar schema every bundle's policies are validated against (strict mode), and the
//! mapping from a [`crate::PolicyRequest`] to Cedar entities and context.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression, Schema,
};

use crate::amount::BaseUnits;
use crate::context;
use crate::facts::AssetLeg;
use crate::request::{PolicyAction, PolicyRequest, Resource};

/// Cedar namespace of every Tessera entity type and action.
pub const NAMESPACE: &str = "Tessera";

/// The schema, in Cedar's schema syntax. Policies refer to `Tessera::ApiKey`, `Tessera::Role`,
/// `Tessera::Tenant`, `Tessera::Wallet` and `Tessera::Action::"<name>"`.
///
/// Context attributes (one evaluation per asset leg, see [`crate::IntentFacts::from_intent`]):
///
/// - `kind`: `transfer`, `contract_call`, `contract_creation`, `sign_message`, or `none` (no
///   intent: `create_wallet`, `change_policy`, a raw digest without payload);
/// - `has_intent`: whether the request carries an intent;
/// - `asset`: the leg's asset: `id` (`chain:network:native|<contract>`), `symbol`, `native`,
///   `contract` (`""` for native), `decimals` (`-1` when unknown), `decimals_known`;
/// - `amount`: the most the request moves of the leg's asset (an `Amount` record, see
///   [`crate::amount`]): its transfers plus, on the fee's asset, the **max fee**;
/// - `value`: the leg's transfers alone, without the fee;
/// - `amount_exceeds_i64`: any leg of the intent exceeds `i64::MAX` base units;
/// - `asset_count`: number of legs; `destinations` / `destination_count`: every recipient of
///   the intent (EVM addresses lowercase);
/// - `moves_others_funds`: a transfer moves funds of another account than the wallet
///   (`transferFrom` under an allowance);
/// - `calls`: every call (`contract`, EVM lowercase; `method`; `selector`, lowercase hex
///   without `0x`); `call_contracts`, `call_methods`, `call_selectors`: the same per attribute,
///   for rules on every call (`["a9059cbb"].containsAll(context.call_selectors)`);
/// - `call`: the **first** call only (`present`, `contract`, `method`, `selector`; empty
///   strings when absent), kept for older policies: rules on it miss every later call;
/// - `operations`: a lower bound of the operations of the payload (calls, or transfers,
///   allowances and authority changes together, whichever is more; at least 1 for a
///   transaction);
/// - `allowances`: every allowance granted or revoked (`spender`, `asset`, `unlimited`,
///   `amount`, which for an unlimited one is 2^256 − 1 and saturates, `expires_at`, `-1` when
///   none, `via`); `allowance_count`, `allowance_spenders`, `grants_unlimited_allowance`;
/// - `authorities`: every authority change (`account`, `authority`, `new_authority`, `""` when
///   `removed`); `authority_changes`: how many;
/// - `risk_flags`: snake_case names of the intent's risk flags;
/// - `fee`: the fee bound as an `Amount` in the fee asset (zero when none);
/// - `fee_share_bps`: the fee as a share of the value the intent moves of the fee's asset, in
///   basis points rounded up (1000 = 10 %); `fee_share_known` is false when the intent moves
///   none of it (a token transfer paying gas in the native coin), and `fee_share_bps` is then
///   `i64::MAX` if there is a fee (0 otherwise), so a rule that forgets `fee_share_known` errs
///   strict;
/// - `now` (unix seconds), `utc_hour` (0–23), `utc_weekday` (0 = Monday … 6 = Sunday);
/// - `mode`: the operating mode in force, `normal`, `degraded` or `lockdown` (see
///   [`crate::mode`]);
/// - `velocity.hour` / `velocity.day`: count and amount of this wallet and asset over the last
///   3600 / 86400 seconds **including this request**, from the signer's ledger (fees included).
pub const SCHEMA: &str = r#"
namespace Tessera {
  entity Tenant;
  entity Role;
  entity ApiKey in [Tenant, Role] = { "tenant": String };
  entity Wallet in [Tenant] = {
    "id": String,
    "tenant": String,
    "chain": String,
    "network": String
  };

  type Amount = {
    "base": Long,
    "exceeds_i64": Bool,
    "exact": String,
    "units": __cedar::decimal,
    "units_saturated": Bool
  };
  type AssetInfo = {
    "id": String,
    "symbol": String,
    "native": Bool,
    "contract": String,
    "decimals": Long,
    "decimals_known": Bool
  };
  type Call = {
    "present": Bool,
    "contract": String,
    "method": String,
    "selector": String
  };
  type CallInfo = { "contract": String, "method": String, "selector": String };
  type AllowanceInfo = {
    "spender": String,
    "asset": AssetInfo,
    "unlimited": Bool,
    "amount": Amount,
    "expires_at": Long,
    "via": String
  };
  type AuthorityInfo = {
    "account": String,
    "authority": String,
    "new_authority": String,
    "removed": Bool
  };
  type Window = { "count": Long, "amount": Amount };
  type Velocity = { "hour": Window, "day": Window };
  type RequestContext = {
    "kind": String,
    "has_intent": Bool,
    "asset": AssetInfo,
    "amount": Amount,
    "value": Amount,
    "amount_exceeds_i64": Bool,
    "asset_count": Long,
    "destinations": Set<String>,
    "destination_count": Long,
    "moves_others_funds": Bool,
    "call": Call,
    "calls": Set<CallInfo>,
    "call_contracts": Set<String>,
    "call_methods": Set<String>,
    "call_selectors": Set<String>,
    "operations": Long,
    "allowances": Set<AllowanceInfo>,
    "allowance_count": Long,
    "allowance_spenders": Set<String>,
    "grants_unlimited_allowance": Bool,
    "authorities": Set<AuthorityInfo>,
    "authority_changes": Long,
    "risk_flags": Set<String>,
    "fee": Amount,
    "fee_share_known": Bool,
    "fee_share_bps": Long,
    "now": Long,
    "utc_hour": Long,
    "utc_weekday": Long,
    "mode": String,
    "velocity": Velocity
  };

  action sign_transaction, sign_typed_data, sign_message, sign_raw_digest, create_wallet,
    reshare_wallet, import_wallet, retire_wallet
    appliesTo { principal: [ApiKey], resource: [Wallet], context: RequestContext };
  action change_policy
    appliesTo { principal: [ApiKey], resource: [Tenant], context: RequestContext };
}
"#;

/// The parsed schema.
pub(crate) fn schema() -> Result<Schema, String> {
    Schema::from_cedarschema_str(SCHEMA)
        .map(|(s, _warnings)| s)
        .map_err(|e| e.to_string())
}

fn uid(ty: &str, id: &str) -> Result<EntityUid, String> {
    let name =
        EntityTypeName::from_str(&format!("{NAMESPACE}::{ty}")).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(name, EntityId::new(id)))
}

/// `Tessera::Action::"<name>"`.
pub(crate) fn action_uid(a: PolicyAction) -> Result<EntityUid, String> {
    uid("Action", a.name())
}

/// Principal, resource and the entity store for `req` under a bundle of `tenant`.
pub(crate) fn entities(
    req: &PolicyRequest,
    tenant: &str,
    schema: &Schema,
) -> Result<(EntityUid, EntityUid, Entities), String> {
    let p = req.principal();
    let tenant_uid = uid("Tenant", tenant)?;
    let mut list = vec![Entity::new_no_attrs(tenant_uid.clone(), HashSet::new())];
    let mut parents = HashSet::from([tenant_uid.clone()]);
    for r in p.roles() {
        let role = uid("Role", r)?;
        list.push(Entity::new_no_attrs(role.clone(), HashSet::new()));
        parents.insert(role);
    }
    let principal = uid("ApiKey", p.api_key())?;
    list.push(
        Entity::new(
            principal.clone(),
            HashMap::from([(
                "tenant".to_string(),
                RestrictedExpression::new_string(p.tenant().to_string()),
            )]),
            parents,
        )
        .map_err(|e| e.to_string())?,
    );
    let resource = match req.resource() {
        Resource::Tenant => tenant_uid.clone(),
        Resource::Wallet(w) => {
            let wallet = uid("Wallet", w.id())?;
            let s = |v: &str| RestrictedExpression::new_string(v.to_string());
            list.push(
                Entity::new(
                    wallet.clone(),
                    HashMap::from([
                        ("id".to_string(), s(w.id())),
                        ("tenant".to_string(), s(tenant)),
                        ("chain".to_string(), s(w.chain())),
                        ("network".to_string(), s(w.network())),
                    ]),
                    HashSet::from([tenant_uid]),
                )
                .map_err(|e| e.to_string())?,
            );
            wallet
        }
    };
    let entities = Entities::from_entities(list, Some(schema)).map_err(|e| e.to_string())?;
    Ok((principal, resource, entities))
}

/// Count and amount of a window, including the request being evaluated.
pub(crate) struct WindowFigures {
    pub count: u64,
    pub amount: BaseUnits,
}

/// The context of one evaluation unit (`leg` is `None` for `change_policy`).
pub(crate) fn context(
    req: &PolicyRequest,
    leg: Option<&AssetLeg>,
    hour: &WindowFigures,
    day: &WindowFigures,
    schema: &Schema,
    action: &EntityUid,
) -> Result<Context, String> {
    let decimals = leg.and_then(|l| l.decimals);
    let zero = BaseUnits::zero();
    let now = req.now_unix();
    let mut json = context::intent_attributes(req.facts());
    json.extend([
        ("asset".into(), context::asset_info(leg)),
        (
            "amount".into(),
            leg.map_or(&zero, |l| &l.total).cedar_json(decimals),
        ),
        (
            "value".into(),
            leg.map_or(&zero, |l| &l.value).cedar_json(decimals),
        ),
        ("now".into(), context::long(now)),
        ("utc_hour".into(), context::long((now % 86_400) / 3_600)),
        ("utc_weekday".into(), context::long((now / 86_400 + 3) % 7)),
        ("mode".into(), req.mode().name().into()),
        (
            "velocity".into(),
            serde_json::json!({
                "hour": context::window(hour, decimals),
                "day": context::window(day, decimals),
            }),
        ),
    ]);
    Context::from_json_value(serde_json::Value::Object(json), Some((schema, action)))
        .map_err(|e| e.to_string())
}
