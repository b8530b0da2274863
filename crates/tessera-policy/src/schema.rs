//! The Cedar schema every bundle's policies are validated against (strict mode), and the
//! mapping from a [`crate::PolicyRequest`] to Cedar entities and context.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression, Schema,
};

use crate::amount::BaseUnits;
use crate::request::{AssetLeg, PolicyAction, PolicyRequest, Resource};

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
/// - `amount`: the leg's total (an `Amount` record, see [`crate::amount`]);
/// - `amount_exceeds_i64`: any leg of the intent exceeds `i64::MAX` base units;
/// - `asset_count`: number of legs; `destinations` / `destination_count`: every recipient of
///   the intent (EVM addresses lowercase);
/// - `call`: `present`, `contract` (EVM lowercase), `method`, `selector` (lowercase hex, no
///   `0x`); empty strings when absent;
/// - `risk_flags`: snake_case names of the intent's risk flags;
/// - `fee`: the fee bound as an `Amount` in the fee asset (zero when none);
/// - `now` (unix seconds), `utc_hour` (0–23), `utc_weekday` (0 = Monday … 6 = Sunday);
/// - `mode`: the operating mode in force, `normal`, `degraded` or `lockdown` (see
///   [`crate::mode`]);
/// - `velocity.hour` / `velocity.day`: count and amount of this wallet and asset over the last
///   3600 / 86400 seconds **including this request**, from the signer's ledger.
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
  type Window = { "count": Long, "amount": Amount };
  type Velocity = { "hour": Window, "day": Window };
  type RequestContext = {
    "kind": String,
    "has_intent": Bool,
    "asset": AssetInfo,
    "amount": Amount,
    "amount_exceeds_i64": Bool,
    "asset_count": Long,
    "destinations": Set<String>,
    "destination_count": Long,
    "call": Call,
    "risk_flags": Set<String>,
    "fee": Amount,
    "now": Long,
    "utc_hour": Long,
    "utc_weekday": Long,
    "mode": String,
    "velocity": Velocity
  };

  action sign_transaction, sign_typed_data, sign_message, sign_raw_digest, create_wallet
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

fn i64_sat(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
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
    let facts = req.facts();
    let asset = match leg {
        Some(l) => serde_json::json!({
            "id": l.asset.to_string(),
            "symbol": l.symbol,
            "native": l.asset.contract().is_none(),
            "contract": l.asset.contract().unwrap_or(""),
            "decimals": l.decimals.map_or(-1, i64::from),
            "decimals_known": l.decimals.is_some(),
        }),
        None => serde_json::json!({
            "id": "", "symbol": "", "native": false, "contract": "",
            "decimals": -1, "decimals_known": false,
        }),
    };
    let decimals = leg.and_then(|l| l.decimals);
    let amount = leg.map(|l| l.total.clone()).unwrap_or_else(BaseUnits::zero);
    let (destinations, call, flags, fee, kind) = match facts {
        Some(f) => {
            let call = match f.call() {
                Some(c) => serde_json::json!({
                    "present": true, "contract": c.contract, "method": c.method,
                    "selector": c.selector,
                }),
                None => serde_json::json!({
                    "present": false, "contract": "", "method": "", "selector": "",
                }),
            };
            let fee = match f.fee() {
                Some(fl) => fl.total.cedar_json(fl.decimals),
                None => BaseUnits::zero().cedar_json(None),
            };
            (
                f.destinations().iter().cloned().collect::<Vec<_>>(),
                call,
                f.risk_flags().iter().cloned().collect::<Vec<_>>(),
                fee,
                f.kind(),
            )
        }
        None => (
            Vec::new(),
            serde_json::json!({
                "present": false, "contract": "", "method": "", "selector": "",
            }),
            Vec::new(),
            BaseUnits::zero().cedar_json(None),
            "none",
        ),
    };
    let now = req.now_unix();
    let json = serde_json::json!({
        "kind": kind,
        "has_intent": facts.is_some(),
        "asset": asset,
        "amount": amount.cedar_json(decimals),
        "amount_exceeds_i64": facts.is_some_and(|f| f.amount_exceeds_i64()),
        "asset_count": facts.map_or(0, |f| i64_sat(f.legs().len() as u64)),
        "destination_count": i64_sat(destinations.len() as u64),
        "destinations": destinations,
        "call": call,
        "risk_flags": flags,
        "fee": fee,
        "now": i64_sat(now),
        "utc_hour": i64_sat((now % 86_400) / 3_600),
        "utc_weekday": i64_sat((now / 86_400 + 3) % 7),
        "mode": req.mode().name(),
        "velocity": {
            "hour": { "count": i64_sat(hour.count), "amount": hour.amount.cedar_json(decimals) },
            "day": { "count": i64_sat(day.count), "amount": day.amount.cedar_json(decimals) },
        },
    });
    Context::from_json_value(json, Some((schema, action))).map_err(|e| e.to_string())
}
