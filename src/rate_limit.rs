//! Rate limits in the server (GCRA, `governor`): per token, per tenant,
//! and on database lookups of tokens not in the cache.
//!
//! Budgets (`[limits]` in config): a register token gets `register_rps`,
//! any other token `token_rps`; a tenant gets `tenant_base_rps` plus
//! `tenant_per_register_rps` for each of its registers (so a chain with 50
//! tills is not squeezed into a corner shop's budget). Bursts are
//! `*_burst` requests. A request spends one cell of its token's budget and
//! one of its tenant's; either empty → 429 with `Retry-After` and
//! `RateLimit-Limit/Remaining/Reset`, counted in
//! `jowi_rate_limited_total{scope}`.
//!
//! Across instances the budgets are split, not shared: each instance
//! enforces `budget / limits.instances`. With a balancer that spreads a
//! tenant's requests evenly (least_conn does, roughly) the sum is the
//! budget; no Redis round trip is added to every request.
//!
//! Unknown tokens: the authenticator remembers hashes it looked up and did
//! not find. Lookups that find nothing spend a budget per claimed tenant
//! (`unknown_token_lookups_rps`) and one for all tenants (ten times that);
//! while either is spent, tokens not in the cache are refused with 429
//! before any query, so a token spray reaches the pool at a bounded rate.
//! Valid tokens never spend it (a fleet of registers starting at once is
//! not throttled), and cached tokens are never affected.
//!
//! Memory: the keyed states are pruned every minute (`retain_recent`);
//! tenant entries exist only for authenticated tenants.

use crate::settings::LimitSettings;
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use jowi_actors::auth::Principal;
use jowi_actors::domain::Role;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A refused request: which budget, its size, and when to come back.
#[derive(Debug, Clone)]
pub struct Throttled {
    pub scope: &'static str,
    /// Burst size of the budget that ran out (RateLimit-Limit).
    pub limit: u32,
    pub retry_after: Duration,
}

impl Throttled {
    /// Whole seconds to wait, at least 1 (Retry-After, RateLimit-Reset).
    pub fn retry_after_s(&self) -> u64 {
        self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0)
    }
}

struct TenantBudget {
    /// The limiter and its burst size.
    limiter: Arc<(DefaultDirectRateLimiter, u32)>,
    /// The rate it was sized for.
    rps: u32,
    /// Registers the budget was sized for (None: catalog not loaded yet).
    registers: Option<usize>,
    computed: Instant,
}

pub struct RateLimits {
    settings: LimitSettings,
    clock: DefaultClock,
    tokens: DefaultKeyedRateLimiter<Uuid>,
    registers: DefaultKeyedRateLimiter<Uuid>,
    tenants: DashMap<Uuid, Arc<TenantBudget>>,
    lookups_per_tenant: DefaultKeyedRateLimiter<Uuid>,
    lookups: DefaultDirectRateLimiter,
    /// Claimed tenants whose failed-lookup budget is spent, until when.
    lookup_blocked: DashMap<Uuid, Instant>,
    /// The same for all tenants together.
    all_lookups_blocked: parking_lot::Mutex<Option<Instant>>,
    throttled: prometheus::IntCounterVec,
}

/// Bound on remembered blocked tenants (claimed ids are client input).
const LOOKUP_BLOCKED_MAX: usize = 100_000;

/// How often a tenant's register count (and so its budget) is re-read.
const TENANT_REFRESH: Duration = Duration::from_secs(30);

/// `rps` per second split over `instances`, with `burst` (also split).
fn quota(rps: u32, burst: u32, instances: u32) -> (Quota, u32) {
    let instances = instances.max(1);
    let burst = (burst / instances).max(1);
    let per_cell = Duration::from_secs_f64(f64::from(instances) / f64::from(rps.max(1)));
    let nz = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    let q = Quota::with_period(per_cell)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(nz);
    (q, burst)
}

impl RateLimits {
    pub fn new(settings: LimitSettings, registry: &prometheus::Registry) -> anyhow::Result<Self> {
        let throttled = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "jowi_rate_limited_total",
                "Requests refused with 429, by the budget that ran out",
            ),
            &["scope"],
        )?;
        registry.register(Box::new(throttled.clone()))?;
        let n = settings.instances;
        let (token_q, _) = quota(settings.token_rps, settings.token_burst, n);
        let (register_q, _) = quota(settings.register_rps, settings.register_burst, n);
        let (lookup_tenant_q, _) = quota(
            settings.unknown_token_lookups_rps,
            settings.unknown_token_lookups_rps,
            n,
        );
        // All tenants together: ten tenants' worth of per-tenant lookups.
        let (lookup_q, _) = quota(
            settings.unknown_token_lookups_rps.saturating_mul(10),
            settings.unknown_token_lookups_rps.saturating_mul(10),
            n,
        );
        Ok(Self {
            clock: DefaultClock::default(),
            tokens: RateLimiter::keyed(token_q),
            registers: RateLimiter::keyed(register_q),
            tenants: DashMap::new(),
            lookups_per_tenant: RateLimiter::keyed(lookup_tenant_q),
            lookups: RateLimiter::direct(lookup_q),
            lookup_blocked: DashMap::new(),
            all_lookups_blocked: parking_lot::Mutex::new(None),
            throttled,
            settings,
        })
    }

    fn refuse(&self, scope: &'static str, limit: u32, wait: Duration) -> Throttled {
        self.throttled.with_label_values(&[scope]).inc();
        Throttled {
            scope,
            limit,
            retry_after: wait,
        }
    }

    /// Spends one request of the caller's token and tenant budgets.
    /// `registers` counts the tenant's registers when its catalog is loaded.
    pub fn check(
        &self,
        who: &Principal,
        registers: impl FnOnce() -> Option<usize>,
    ) -> Result<(), Throttled> {
        if !self.settings.enabled {
            return Ok(());
        }
        let s = &self.settings;
        let (limiter, burst) = if who.role == Role::Register {
            (&self.registers, s.register_burst)
        } else {
            (&self.tokens, s.token_burst)
        };
        if let Err(not_until) = limiter.check_key(&who.token_id) {
            let wait = not_until.wait_time_from(self.clock.now());
            return Err(self.refuse("token", burst / s.instances.max(1), wait));
        }
        let budget = self.tenant_budget(who.tenant_id, registers);
        if let Err(not_until) = budget.limiter.0.check() {
            let wait = not_until.wait_time_from(self.clock.now());
            return Err(self.refuse("tenant", budget.limiter.1, wait));
        }
        Ok(())
    }

    fn tenant_budget(
        &self,
        tenant: Uuid,
        registers: impl FnOnce() -> Option<usize>,
    ) -> Arc<TenantBudget> {
        let old = self.tenants.get(&tenant).map(|b| Arc::clone(&b));
        if let Some(b) = &old {
            if b.registers.is_some() && b.computed.elapsed() < TENANT_REFRESH {
                return Arc::clone(b);
            }
        }
        let count = registers();
        let s = &self.settings;
        let per_register = s
            .tenant_per_register_rps
            .saturating_mul(u32::try_from(count.unwrap_or(0)).unwrap_or(u32::MAX));
        let rps = s.tenant_base_rps.saturating_add(per_register);
        let limiter = match &old {
            // Same budget: keep the limiter and what was spent of it (a
            // fresh one would hand out a second burst).
            Some(b) if b.rps == rps => Arc::clone(&b.limiter),
            _ => {
                let burst = rps.saturating_mul(s.tenant_burst_s.max(1));
                let (q, limit) = quota(rps, burst, s.instances);
                Arc::new((RateLimiter::direct(q), limit))
            }
        };
        let budget = Arc::new(TenantBudget {
            limiter,
            rps,
            registers: count,
            computed: Instant::now(),
        });
        self.tenants.insert(tenant, Arc::clone(&budget));
        budget
    }

    /// May a token not in the cache be looked up in the database now?
    /// Refused while the claimed tenant's (or all tenants') budget of
    /// failed lookups is spent; valid tokens never spend it.
    pub fn check_lookup(&self, claimed_tenant: Uuid) -> Result<(), Throttled> {
        if !self.settings.enabled {
            return Ok(());
        }
        let now = Instant::now();
        let blocked = [
            self.lookup_blocked.get(&claimed_tenant).map(|t| *t),
            *self.all_lookups_blocked.lock(),
        ];
        if let Some(until) = blocked.into_iter().flatten().filter(|t| *t > now).max() {
            return Err(self.refuse(
                "token_lookup",
                self.settings.unknown_token_lookups_rps,
                until - now,
            ));
        }
        Ok(())
    }

    /// A looked-up token did not exist: spends the failed-lookup budgets,
    /// and once one is spent blocks lookups until it refills.
    pub fn lookup_failed(&self, claimed_tenant: Uuid) {
        if !self.settings.enabled {
            return;
        }
        let now = Instant::now();
        if let Err(nu) = self.lookups_per_tenant.check_key(&claimed_tenant) {
            let wait = nu.wait_time_from(self.clock.now());
            if self.lookup_blocked.len() >= LOOKUP_BLOCKED_MAX {
                self.lookup_blocked.retain(|_, until| *until > now);
            }
            self.lookup_blocked.insert(claimed_tenant, now + wait);
        }
        if let Err(nu) = self.lookups.check() {
            *self.all_lookups_blocked.lock() = Some(now + nu.wait_time_from(self.clock.now()));
        }
    }

    /// Drops keyed state that is back to a full budget (bounded memory).
    pub fn prune(&self) {
        self.tokens.retain_recent();
        self.registers.retain_recent();
        self.lookups_per_tenant.retain_recent();
        self.tokens.shrink_to_fit();
        self.registers.shrink_to_fit();
        self.lookups_per_tenant.shrink_to_fit();
        let now = Instant::now();
        self.lookup_blocked.retain(|_, until| *until > now);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings() -> LimitSettings {
        LimitSettings {
            enabled: true,
            instances: 1,
            token_rps: 1,
            token_burst: 1000,
            register_rps: 1,
            register_burst: 3,
            tenant_base_rps: 2,
            tenant_per_register_rps: 1,
            tenant_burst_s: 5,
            unknown_token_lookups_rps: 2,
        }
    }

    fn principal(tenant: Uuid, role: Role) -> Principal {
        Principal {
            tenant_id: tenant,
            token_id: Uuid::now_v7(),
            role,
            register_id: None,
        }
    }

    /// The tenant budget is base + per-register share, times the burst
    /// seconds; once spent, 429 names the tenant scope and that limit.
    #[test]
    fn tenant_budget_grows_with_its_registers() {
        let limits = RateLimits::new(settings(), &prometheus::Registry::new()).unwrap();
        let tenant = Uuid::now_v7();
        let owner = principal(tenant, Role::Owner);
        // (2 + 3 x 1) rps x 5 s = 25 requests of burst.
        let passed = (0..40)
            .take_while(|_| limits.check(&owner, || Some(3)).is_ok())
            .count();
        assert_eq!(passed, 25);
        let refused = limits.check(&owner, || Some(3)).unwrap_err();
        assert_eq!((refused.scope, refused.limit), ("tenant", 25));
        assert!(refused.retry_after_s() >= 1);
        // Another tenant is untouched.
        assert!(limits
            .check(&principal(Uuid::now_v7(), Role::Owner), || Some(0))
            .is_ok());
    }

    /// A register token has its own, smaller budget; split over instances.
    #[test]
    fn register_tokens_and_instances_split_budgets() {
        let mut s = settings();
        s.tenant_base_rps = 1000;
        let limits = RateLimits::new(s.clone(), &prometheus::Registry::new()).unwrap();
        let till = principal(Uuid::now_v7(), Role::Register);
        let passed = (0..10)
            .take_while(|_| limits.check(&till, || Some(1)).is_ok())
            .count();
        assert_eq!(passed, 3);
        assert_eq!(limits.check(&till, || Some(1)).unwrap_err().scope, "token");
        s.instances = 2;
        s.register_burst = 4;
        let limits = RateLimits::new(s, &prometheus::Registry::new()).unwrap();
        let passed = (0..10)
            .take_while(|_| limits.check(&till, || Some(1)).is_ok())
            .count();
        assert_eq!(passed, 2);
    }

    #[test]
    fn disabled_limits_never_refuse() {
        let mut s = settings();
        s.enabled = false;
        let limits = RateLimits::new(s, &prometheus::Registry::new()).unwrap();
        let till = principal(Uuid::now_v7(), Role::Register);
        assert!((0..100).all(|_| limits.check(&till, || None).is_ok()));
        (0..100).for_each(|_| limits.lookup_failed(till.tenant_id));
        assert!(limits.check_lookup(till.tenant_id).is_ok());
    }

    /// The tenant's catalog loading (register count unknown, then 0) must
    /// not hand out a second burst.
    #[test]
    fn loading_the_tenant_does_not_refill_its_budget() {
        let limits = RateLimits::new(settings(), &prometheus::Registry::new()).unwrap();
        let owner = principal(Uuid::now_v7(), Role::Owner);
        // (2 + 0) rps x 5 s = 10 of burst, whether loaded or not.
        let before = (0..5)
            .filter(|_| limits.check(&owner, || None).is_ok())
            .count();
        let after = (0..20)
            .filter(|_| limits.check(&owner, || Some(0)).is_ok())
            .count();
        assert_eq!(before + after, 10);
    }
}
