// The detection rules, one function per catalogue row (docs/detections.md), grouped by family.
// Each looks only at the RuleContext and appends at most one hit with a one-line reason.
#pragma once

#include <vector>

#include "connector/enrichment/detections.h"

namespace siem::rules {

// Role assignments (role_rules.cc)
void role_assigned(const RuleContext& c, std::vector<RuleHit>& out);
void assigned_outside_pim(const RuleContext& c, std::vector<RuleHit>& out);
void permanent(const RuleContext& c, std::vector<RuleHit>& out);
void removed(const RuleContext& c, std::vector<RuleHit>& out);

// PIM activations (pim_rules.cc)
void pim_activation(const RuleContext& c, std::vector<RuleHit>& out);
void pim_no_justification(const RuleContext& c, std::vector<RuleHit>& out);
void pim_long_activation(const RuleContext& c, std::vector<RuleHit>& out);

// Break-glass accounts (breakglass_rules.cc)
void breakglass_signin(const RuleContext& c, std::vector<RuleHit>& out);
void breakglass_activity(const RuleContext& c, std::vector<RuleHit>& out);

// Privileged sign-ins (signin_rules.cc)
void signin_privileged(const RuleContext& c, std::vector<RuleHit>& out);
void signin_no_mfa(const RuleContext& c, std::vector<RuleHit>& out);
void signin_legacy_auth(const RuleContext& c, std::vector<RuleHit>& out);
void signin_unmanaged_device(const RuleContext& c, std::vector<RuleHit>& out);
void signin_nonadmin_app(const RuleContext& c, std::vector<RuleHit>& out);
void signin_risky(const RuleContext& c, std::vector<RuleHit>& out);

// Privileged accounts (account_rules.cc)
void external_admin(const RuleContext& c, std::vector<RuleHit>& out);
void credential_change(const RuleContext& c, std::vector<RuleHit>& out);
void new_admin(const RuleContext& c, std::vector<RuleHit>& out);
void mfa_removed(const RuleContext& c, std::vector<RuleHit>& out);

// Tenant-wide controls (tenant_rules.cc)
void federation_change(const RuleContext& c, std::vector<RuleHit>& out);
void conditional_access_change(const RuleContext& c, std::vector<RuleHit>& out);
void auth_policy_change(const RuleContext& c, std::vector<RuleHit>& out);

// Applications and service principals (app_rules.cc)
void app_privileged_permission(const RuleContext& c, std::vector<RuleHit>& out);
void app_credential_added(const RuleContext& c, std::vector<RuleHit>& out);
void app_consent_granted(const RuleContext& c, std::vector<RuleHit>& out);

// Azure RBAC (azure_rules.cc)
void azure_privileged_role_assignment(const RuleContext& c, std::vector<RuleHit>& out);
void azure_role_assignment_removed(const RuleContext& c, std::vector<RuleHit>& out);
void subscription_ownership(const RuleContext& c, std::vector<RuleHit>& out);
void elevate_access(const RuleContext& c, std::vector<RuleHit>& out);

// PIM alerts and Identity Protection risk (alert_rules.cc)
void pim_alert(const RuleContext& c, std::vector<RuleHit>& out);
void risk_privileged(const RuleContext& c, std::vector<RuleHit>& out);
// Security alerts (security_alert_rules.cc)
void alert_privileged_principal(const RuleContext& c, std::vector<RuleHit>& out);
// Changes between two privileged-identity inventories (inventory_rules.cc)
void inventory_new_principal(const RuleContext& c, std::vector<RuleHit>& out);
void inventory_new_global_admin(const RuleContext& c, std::vector<RuleHit>& out);
void inventory_new_tier0(const RuleContext& c, std::vector<RuleHit>& out);
void inventory_made_permanent(const RuleContext& c, std::vector<RuleHit>& out);
void inventory_role_removed(const RuleContext& c, std::vector<RuleHit>& out);
}  // namespace siem::rules
