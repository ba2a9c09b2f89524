#include "connector/mapping/record_shape.h"

#include <algorithm>
#include <array>
#include <vector>

#include "connector/record/encoding.h"
#include "connector/record/json_access.h"

namespace siem {

namespace {

using element = simdjson::dom::element;

enum class Family : std::uint8_t { audit, sign_in, activity };

struct Table {
  std::string_view type;      // the row's `Type` (the table name)
  LogAnalyticsTable table;
  Family family;
  std::string_view category;  // the diagnostic-settings category of the same records
};
constexpr std::array<Table, 6> kTables{{
    {"AuditLogs", LogAnalyticsTable::audit_logs, Family::audit, "AuditLogs"},
    {"SigninLogs", LogAnalyticsTable::signin_logs, Family::sign_in, "SignInLogs"},
    {"AADNonInteractiveUserSignInLogs", LogAnalyticsTable::non_interactive_signins, Family::sign_in,
     "NonInteractiveUserSignInLogs"},
    {"AADServicePrincipalSignInLogs", LogAnalyticsTable::service_principal_signins, Family::sign_in,
     "ServicePrincipalSignInLogs"},
    {"AADManagedIdentitySignInLogs", LogAnalyticsTable::managed_identity_signins, Family::sign_in,
     "ManagedIdentitySignInLogs"},
    {"AzureActivity", LogAnalyticsTable::azure_activity, Family::activity, ""},
}};

// Where a column goes in the Event Hubs shape: a top-level member, a member of `properties`, or of
// `identity` (the Activity Log's authorization and claims).
enum class To : std::uint8_t { top, props, identity };

// One member of the rewritten record: the first of `columns` the row has (not null). `json`: the
// column is dynamic, or a string column Microsoft documents as holding JSON; JSON text is decoded.
struct Target {
  To to;
  std::string_view key;
  std::array<std::string_view, 2> columns;  // the second may be empty
  bool json = false;
};
using Targets = std::vector<Target>;

// Columns of the Log Analytics workspace, not of the record: TenantId is the workspace id there.
constexpr std::array<std::string_view, 9> kWorkspaceColumns{
    "TenantId", "SourceSystem", "Type", "MG", "ManagementGroupName", "Computer", "RawData", "Resource", "ResourceProvider"};

// The envelope every Entra ID diagnostic-settings record carries (its category comes from the table).
const Targets& entra_envelope() {
  static const Targets t = {
      {To::top, "time", {"TimeGenerated"}},
      {To::top, "operationName", {"OperationName"}},
      {To::top, "operationVersion", {"OperationVersion"}},
      {To::top, "tenantId", {"AADTenantId"}},
      {To::top, "resultType", {"ResultType"}},
      {To::top, "resultSignature", {"ResultSignature"}},
      {To::top, "resultDescription", {"ResultDescription"}},
      {To::top, "durationMs", {"DurationMs"}},
      {To::top, "callerIpAddress", {"CallerIpAddress"}},
      {To::top, "correlationId", {"CorrelationId"}},
      {To::top, "identity", {"Identity"}},
      {To::top, "Level", {"Level"}},
      {To::top, "location", {"Location"}},
      {To::props, "correlationId", {"CorrelationId"}},
      {To::props, "id", {"Id"}},
  };
  return t;
}

const Targets& audit_targets() {
  static const Targets t = {
      {To::props, "category", {"Category"}},
      {To::props, "operationType", {"AADOperationType"}},
      {To::props, "initiatedBy", {"InitiatedBy"}, true},
      {To::props, "targetResources", {"TargetResources"}, true},
      {To::props, "additionalDetails", {"AdditionalDetails"}, true},
  };
  return t;
}

const Targets& sign_in_targets() {
  static const Targets t = {
      {To::props, "ipAddress", {"IPAddress"}},
      {To::props, "location", {"LocationDetails"}, true},
      {To::props, "appliedConditionalAccessPolicies", {"ConditionalAccessPolicies", "AppliedConditionalAccessPolicies"}, true},
      {To::props, "riskEventTypes_v2", {"RiskEventTypes_V2"}, true},
      {To::props, "resourceId", {"ResourceIdentity"}},
      {To::props, "status", {"Status"}, true},
      {To::props, "deviceDetail", {"DeviceDetail"}, true},
      {To::props, "authenticationDetails", {"AuthenticationDetails"}, true},
      {To::props, "authenticationProcessingDetails", {"AuthenticationProcessingDetails"}, true},
      {To::props, "authenticationRequirementPolicies", {"AuthenticationRequirementPolicies"}, true},
      {To::props, "authenticationContextClassReferences", {"AuthenticationContextClassReferences"}, true},
      {To::props, "appliedEventListeners", {"AppliedEventListeners"}, true},
      {To::props, "conditionalAccessPoliciesV2", {"ConditionalAccessPoliciesV2"}, true},
      {To::props, "mfaDetail", {"MfaDetail"}, true},
      {To::props, "networkLocationDetails", {"NetworkLocationDetails"}, true},
      {To::props, "riskEventTypes", {"RiskEventTypes"}, true},
      {To::props, "sessionLifetimePolicies", {"SessionLifetimePolicies"}, true},
      {To::props, "managedServiceIdentity", {"ManagedServiceIdentity"}, true},
      {To::top, "category", {"Category"}},  // the table's category is written instead
  };
  return t;
}

// AzureActivity: the `…Value` columns hold what the Activity Log's value fields hold (the plain
// columns are their deprecated localized twins); `…_d` is the dynamic form of a JSON text column.
const Targets& activity_targets() {
  static const Targets t = {
      {To::top, "time", {"TimeGenerated"}},
      {To::top, "resourceId", {"ResourceId", "_ResourceId"}},
      {To::top, "operationName", {"OperationNameValue", "OperationName"}},
      {To::top, "category", {"CategoryValue", "Category"}},
      {To::top, "resultType", {"ActivityStatusValue", "ActivityStatus"}},
      {To::top, "resultSignature", {"ActivitySubstatusValue", "ActivitySubstatus"}},
      {To::top, "callerIpAddress", {"CallerIpAddress"}},
      {To::top, "correlationId", {"CorrelationId"}},
      {To::top, "level", {"Level"}},
      {To::top, "eventDataId", {"EventDataId"}},
      {To::top, "operationId", {"OperationId"}},
      {To::identity, "authorization", {"Authorization_d", "Authorization"}, true},
      {To::identity, "claims", {"Claims_d", "Claims"}, true},
  };
  return t;
}

// Whose columns the row has: several families means the row is not one record of one table.
struct Content {
  bool audit = false, sign_in = false, activity = false;
  int count() const { return int(audit) + int(sign_in) + int(activity); }
};
Content content_of(const json::Fields& r) {
  Content c;
  c.audit = r.has("ActivityDisplayName") && (r.has("InitiatedBy") || r.has("TargetResources") || r.has("LoggedByService"));
  c.sign_in = (r.has("UserPrincipalName") || r.has("ServicePrincipalId") || r.has("AppId")) &&
              (r.has("CreatedDateTime") || r.has("IPAddress") || r.has("ResourceIdentity") || r.has("Status"));
  c.activity = r.has("OperationNameValue") || r.has("CategoryValue") || r.has("ActivityStatusValue") || r.has("EventDataId");
  return c;
}
bool has_family(const Content& c, Family f) {
  return f == Family::audit ? c.audit : f == Family::sign_in ? c.sign_in : c.activity;
}

std::string text(const json::Fields& r, std::string_view key) {
  std::string s;
  if (const auto c = r.get(key)) json::scalar_text(*c, s);
  return s;
}

const Table* table_of(const json::Fields& r, bool& conflicting) {
  const Content content = content_of(r);
  const std::string type = text(r, "Type");
  if (!type.empty()) {
    for (const auto& t : kTables) {
      if (!json::iequals(type, t.type)) continue;
      // Columns of another table (or of two): the row is not what its Type says.
      conflicting = content.count() > 1 || (content.count() == 1 && !has_family(content, t.family));
      return conflicting ? nullptr : &t;
    }
    return nullptr;  // another table: not rewritten (mapped as an unknown record)
  }
  if (content.count() > 1) conflicting = true;
  if (content.count() != 1) return nullptr;
  const auto table = [](LogAnalyticsTable which) {
    return &*std::find_if(kTables.begin(), kTables.end(), [&](const Table& t) { return t.table == which; });
  };
  if (content.audit) return table(LogAnalyticsTable::audit_logs);
  if (content.activity) return table(LogAnalyticsTable::azure_activity);
  const std::string category = text(r, "Category");  // the sign-in tables carry their category
  for (const auto& t : kTables)
    if (t.family == Family::sign_in && json::iequals(category, t.category)) return &t;
  return table(LogAnalyticsTable::signin_logs);
}

// The row rewritten member by member.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  // `"key":` after a comma unless first in its object.
  void key(std::string_view k) {
    if (!first_) out_ += ',';
    first_ = false;
    encoding::append_json_string(out_, k);
    out_ += ':';
  }
  void open(std::string_view k) {
    key(k);
    out_ += '{';
    first_ = true;
  }
  void close() {
    out_ += '}';
    first_ = false;
  }
  // A column's value; JSON text decoded for a JSON column (left as text when it is not JSON).
  void value(element v, bool json) {
    if (json && v.is_string()) {
      thread_local simdjson::dom::parser inner;
      const std::string_view s = v.get_string().value_unsafe();
      const auto first = s.find_first_not_of(" \t\r\n");
      element decoded;
      if (first != std::string_view::npos && (s[first] == '{' || s[first] == '[') &&
          inner.parse(s).get(decoded) == simdjson::SUCCESS) {
        json::append_json(out_, decoded);
        return;
      }
    }
    json::append_json(out_, v);
  }
  void member(std::string_view k, element v, bool json) {
    key(k);
    value(v, json);
  }
  void string_member(std::string_view k, std::string_view v) {
    key(k);
    encoding::append_json_string(out_, v);
  }
  std::string& out() { return out_; }

 private:
  std::string& out_;
  bool first_ = true;
};

std::optional<element> column(const json::Fields& r, const Target& t) {
  for (auto c : t.columns)
    if (auto v = c.empty() ? std::nullopt : r.get(c); v && !v->is_null()) return v;
  return std::nullopt;
}

bool consumed(std::string_view name, const Targets& targets) {
  if (name.empty() || name.front() == '_') return true;  // _ResourceId, _BilledSize, ...: workspace columns
  for (auto w : kWorkspaceColumns)
    if (json::iequals(name, w)) return true;
  for (const Targets* list : {&entra_envelope(), &targets})
    for (const auto& t : *list)
      for (auto c : t.columns)
        if (!c.empty() && json::iequals(name, c)) return true;
  // Read by the rewrite itself.
  return json::iequals(name, "ResourceId") || json::iequals(name, "Properties") || json::iequals(name, "Properties_d");
}

// Graph / diagnostic-settings spelling of a column: first letter lower-cased.
std::string camel(std::string_view column) {
  std::string k(column);
  if (!k.empty() && k[0] >= 'A' && k[0] <= 'Z') k[0] = static_cast<char>(k[0] | 0x20);
  return k;
}

// Entra tables: the envelope at the top, the rest of the row under `properties`.
void rewrite_entra(const json::Fields& r, element row, const Table& t, const Targets& targets, Writer& w) {
  for (const auto& target : entra_envelope())
    if (target.to == To::top)
      if (auto v = column(r, target)) w.member(target.key, *v, target.json);
  w.string_member("category", t.category);
  // Sign-ins: ResourceId is the Entra resource ("/tenants/…/providers/Microsoft.aadiam") in the
  // export; the resource signed in to is ResourceIdentity.
  if (auto id = r.get("ResourceId"); id && id->is_string() && json::istarts_with(id->get_string().value_unsafe(), "/"))
    w.member("resourceId", *id, false);
  w.open("properties");
  bool has_status = false;
  for (const Targets* list : {&entra_envelope(), &targets}) {
    for (const auto& target : *list) {
      if (target.to != To::props) continue;
      if (auto v = column(r, target)) {
        w.member(target.key, *v, target.json);
        has_status = has_status || target.key == "status";
      }
    }
  }
  simdjson::dom::object columns;
  if (row.get_object().get(columns) != simdjson::SUCCESS) return;  // the caller passes the row object
  for (const auto field : columns) {
    if (field.value.is_null() || consumed(field.key, targets)) continue;
    w.member(camel(field.key), field.value, false);
  }
  // The service-principal and managed-identity tables have no Status: the sign-in's error code is
  // ResultType there (0: success), as in the other shapes' status.errorCode.
  if (t.family == Family::sign_in && !has_status) {
    const std::string code = text(r, "ResultType");
    const bool numeric = !code.empty() && code.size() <= 9 && code.find_first_not_of("0123456789") == std::string::npos;
    if (numeric) {
      w.open("status");
      w.key("errorCode");
      w.out() += std::to_string(std::stol(code));
      if (auto reason = r.get("ResultDescription"); reason && reason->is_string()) w.member("failureReason", *reason, false);
      w.close();
    }
  }
  w.close();
}

void rewrite_activity(const json::Fields& r, Writer& w) {
  for (const auto& target : activity_targets())
    if (target.to == To::top)
      if (auto v = column(r, target)) w.member(target.key, *v, target.json);
  bool identity = false;
  for (const auto& target : activity_targets()) {
    if (target.to != To::identity) continue;
    auto v = column(r, target);
    if (!v) continue;
    if (!identity) w.open("identity");
    identity = true;
    w.member(target.key, *v, true);
  }
  if (identity) w.close();
  // properties: the row's Properties (dynamic or JSON text), with the caller and subscription of
  // their own columns when it does not carry them.
  w.open("properties");
  bool caller = false, subscription = false;
  const Target props{To::props, "properties", {"Properties_d", "Properties"}, true};
  if (auto p = column(r, props)) {
    thread_local simdjson::dom::parser inner;
    element decoded = *p;
    if (p->is_string() && inner.parse(p->get_string().value_unsafe()).get(decoded) != simdjson::SUCCESS) decoded = *p;
    simdjson::dom::object members;  // not an object (nor JSON text of one): nothing to copy
    if (decoded.get_object().get(members) == simdjson::SUCCESS) {
      for (const auto field : members) {
        w.member(field.key, field.value, false);
        caller = caller || json::iequals(field.key, "caller");
        subscription = subscription || json::iequals(field.key, "subscriptionId");
      }
    }
  }
  if (auto v = r.get("Caller"); v && !caller && !v->is_null()) w.member("caller", *v, false);
  if (auto v = r.get("SubscriptionId"); v && !subscription && !v->is_null()) w.member("subscriptionId", *v, false);
  w.close();
}

}  // namespace

ShapeResult normalize_log_analytics(const json::Fields& fields, element record) {
  ShapeResult result;
  if (!fields.has("TimeGenerated")) return result;  // every Log Analytics row has it; no other shape does
  const Table* t = table_of(fields, result.conflicting);
  if (!t) return result;
  result.table = t->table;
  result.kind = t->family == Family::audit     ? SourceKind::eventhub_audit
                : t->family == Family::sign_in ? SourceKind::eventhub_sign_in
                                               : SourceKind::eventhub_activity;
  std::string& out = result.rewritten;
  out.reserve(4096);
  out += '{';
  Writer w(out);
  switch (t->family) {
    case Family::audit: rewrite_entra(fields, record, *t, audit_targets(), w); break;
    case Family::sign_in: rewrite_entra(fields, record, *t, sign_in_targets(), w); break;
    case Family::activity: rewrite_activity(fields, w); break;
  }
  out += '}';
  return result;
}

std::string_view to_string(LogAnalyticsTable table) noexcept {
  for (const auto& t : kTables)
    if (t.table == table) return t.type;
  return "";
}

}  // namespace siem
