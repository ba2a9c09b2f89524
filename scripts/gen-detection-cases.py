"""Generates mappings/tests/detections/catalogue.yaml (golden detection cases) and the quickstart
scenario config/quickstart-data/privileged-scenario.ndjson (the positive inputs) from one table."""
import json, os, yaml
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

GA = "62e90394-69f5-4237-9190-012177145e10"     # Global Administrator, tier 0
UA = "fe930be7-5e62-47db-91af-98c3a49a38b1"     # User Administrator, tier 1
RR = "4a5d8f65-41da-4de4-8968-e035b65339cf"     # Reports Reader, tier 2
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

def audit(op, role_name="Global Administrator", role_id=GA, target_upn="bob@contoso.example", target_id="9a7e0000-0000-0000-0000-0000000000b0",
          actor_upn="alice@contoso.example", service="Core Directory", app=None, result="success", details=None, category="RoleManagement",
          target_type="User", extra_props=None, reason=""):
    r = {
        "id": "Directory_8c1f_" + op.replace(" ", "")[:12] + "_22817461",
        "category": category, "correlationId": "da159bfb-0000-0000-0000-000000000001",
        "result": result, "resultReason": reason, "activityDisplayName": op,
        "activityDateTime": "2026-03-04T10:15:30.1234567Z", "loggedByService": service, "operationType": "Assign",
        "initiatedBy": {"user": {"id": "4f1c0000-0000-0000-0000-0000000000a1", "displayName": "Alice", "userPrincipalName": actor_upn, "ipAddress": "203.0.113.10"}} if not app else
                       {"app": {"appId": None, "displayName": app, "servicePrincipalId": "5b7e0000-0000-0000-0000-000000000001", "servicePrincipalName": None}},
        "targetResources": [
            {"id": target_id, "displayName": target_upn.split("@")[0], "type": target_type, "userPrincipalName": target_upn,
             "modifiedProperties": [
                 {"displayName": "Role.DisplayName", "oldValue": None, "newValue": json.dumps(role_name)},
                 {"displayName": "Role.TemplateId", "oldValue": None, "newValue": json.dumps(role_id)}] + (extra_props or [])}],
        "additionalDetails": details or [],
    }
    return r

def signin(upn="carol@contoso.example", error=0, requirement="multiFactorAuthentication", client="Browser", compliant=True, managed=True,
           app="Azure Portal", risk="none", mfa_step=True, uid="c0000000-0000-0000-0000-0000000000c1"):
    steps = [{"authenticationMethod": "Password", "succeeded": True, "authenticationStepRequirement": "Primary authentication"}]
    if mfa_step:
        steps.append({"authenticationMethod": "Mobile app notification", "succeeded": True, "authenticationStepRequirement": "MFA"})
    return {
        "id": "66ea54eb-0000-4ee5-be62-ff5a759b0100", "createdDateTime": "2026-03-04T10:21:07.456Z",
        "userDisplayName": "Carol", "userPrincipalName": upn, "userId": uid, "appId": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        "appDisplayName": app, "ipAddress": "198.51.100.23", "clientAppUsed": client, "isInteractive": True,
        "authenticationRequirement": requirement, "authenticationDetails": steps,
        "riskLevelDuringSignIn": risk, "riskLevelAggregated": "none", "riskState": "none", "signInEventTypes": ["interactiveUser"],
        "status": {"errorCode": error, "failureReason": "Other." if error == 0 else "Invalid username or password."},
        "deviceDetail": {"deviceId": "", "operatingSystem": "Windows 10", "browser": "Edge", "isCompliant": compliant, "isManaged": managed},
        "location": {"city": "Tallinn", "state": "Harjumaa", "countryOrRegion": "EE", "geoCoordinates": {"latitude": 59.43, "longitude": 24.75}},
    }

def pim_request(action="selfActivate", justification="Investigating incident INC-4711 in production", duration="PT2H", role=GA, exp_type="afterDuration", status="Provisioned"):
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/roleAssignmentScheduleRequests/$entity",
        "id": "911bab8a-6912-4de2-9dc0-2648ede7dd6d", "status": status, "createdDateTime": "2026-03-04T10:15:30Z",
        "completedDateTime": "2026-03-04T10:15:31Z", "action": action, "principalId": "071cc716-8147-4397-a5ba-b2105951cc0b",
        "roleDefinitionId": role, "directoryScopeId": "/", "justification": justification,
        "createdBy": {"user": {"id": "071cc716-8147-4397-a5ba-b2105951cc0b"}},
        "scheduleInfo": {"startDateTime": "2026-03-04T10:15:30Z", "expiration": {"type": exp_type, "endDateTime": None, "duration": duration if exp_type == "afterDuration" else None}},
        "ticketInfo": {"ticketNumber": "CONTOSO:Normal-67890", "ticketSystem": "MS Project"},
    }

def activity(op, role=OWNER, scope="/subscriptions/dfa2a084-766f-4003-8ae1-c4aeb893a99f", status="Succeeded", caller="alice@contoso.example"):
    body = json.dumps({"Id": "a1b2", "Properties": {"PrincipalId": "9a7e0000-0000-0000-0000-0000000000b0", "PrincipalType": "User",
                       "RoleDefinitionId": "/subscriptions/dfa2a084-766f-4003-8ae1-c4aeb893a99f/providers/Microsoft.Authorization/roleDefinitions/" + role,
                       "Scope": scope}})
    return {
        "authorization": {"action": op, "scope": scope + "/providers/Microsoft.Authorization/roleAssignments/a1b2"},
        "caller": caller, "claims": {"ipaddr": "203.0.113.10", "name": "Alice", "http://schemas.microsoft.com/identity/claims/objectidentifier": "4f1c0000-0000-0000-0000-0000000000a1"},
        "correlationId": "c0ffee00-0000-0000-0000-000000000001", "eventDataId": "e7e1d000-0000-0000-0000-00000000000" + str(len(op) % 10),
        "category": {"value": "Administrative", "localizedValue": "Administrative"}, "eventName": {"value": "EndRequest"},
        "eventTimestamp": "2026-03-04T10:15:30.1234567Z", "submissionTimestamp": "2026-03-04T10:15:50Z",
        "httpRequest": {"clientIpAddress": "203.0.113.10", "method": "PUT"}, "level": "Informational",
        "operationName": {"value": op, "localizedValue": op}, "resourceId": scope + "/providers/Microsoft.Authorization/roleAssignments/a1b2",
        "status": {"value": status}, "subStatus": {"value": "Created"}, "subscriptionId": "dfa2a084-766f-4003-8ae1-c4aeb893a99f",
        "tenantId": "1114444b-7467-4144-a616-e3a5d63e147b", "properties": {"statusCode": "Created", "requestbody": body},
    }

cases = []
def case(name, inp, tags=(), absent=(), tier="skip", severity=None, config=None, source=None, inputs=None, ecs=None, cef=None):
    c = {"name": name}
    if source: c["source"] = source
    if config: c["config"] = config
    if inputs: c["inputs"] = inputs
    else: c["input"] = inp
    e = {}
    if tags: e["tags"] = list(tags)
    if absent: e["absent_tags"] = list(absent)
    if tier != "skip": e["tier"] = tier
    if severity is not None: e["severity"] = severity
    if ecs: e["ecs"] = ecs
    if cef: e["cef"] = cef
    c["expect"] = e
    cases.append(c)

BG = {"break_glass_accounts": ["bg-01@contoso.example"]}
ROSTER = {"privileged_principals": ["carol@contoso.example"]}

# role assignment family
case("pa.role.assigned: Global Administrator added outside PIM", audit("Add member to role"),
     tags=["pa.role.assigned", "pa.role.assigned_outside_pim", "pa.role.permanent", "pa.role.tier0"], tier=0, severity=8,
     ecs={"event.id": "Directory_8c1f_Addmembertor_22817461", "event.action": "Add member to role", "event.category": ["iam"], "event.type": ["user", "change"],
          "user.name": "alice@contoso.example", "user.target.name": "bob@contoso.example", "azure.privileged_access.roles": ["Global Administrator"]},
     cef={"externalId": "Directory_8c1f_Addmembertor_22817461", "suser": "alice@contoso.example", "duser": "bob@contoso.example", "cs6Label": "privilegedAccessTags", "cn3Label": "privilegedTier", "name": "Add member to role"})
case("pa.role.assigned near miss: a non-privileged role", audit("Add member to role", role_name="Message Center Reader", role_id="790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b"),
     absent=["pa.role.assigned", "pa.role.assigned_outside_pim", "pa.role.permanent", "pa.role.tier0"], tier=None)
case("pa.role.assigned: tier 1 role through PIM gets severity 6", audit("Add member to role in PIM completed (timebound)", role_name="User Administrator", role_id=UA, service="PIM"),
     tags=["pa.role.assigned", "pa.role.tier1"], absent=["pa.role.assigned_outside_pim", "pa.role.permanent"], tier=1, severity=6)
case("pa.role.assigned_outside_pim near miss: Core Directory mirror written by MS-PIM", audit("Add member to role", app="MS-PIM"),
     tags=["pa.role.assigned"], absent=["pa.role.assigned_outside_pim", "pa.role.permanent"], tier=0)
case("pa.role.assigned_outside_pim: explicit 'outside of PIM' activity", audit("Add member to role outside of PIM (permanent)", service="PIM"),
     tags=["pa.role.assigned_outside_pim", "pa.role.permanent"], severity=8)
case("pa.role.permanent: permanent eligible assignment in PIM", audit("Add eligible member to role in PIM completed (permanent)", service="PIM"),
     tags=["pa.role.assigned", "pa.role.permanent"], absent=["pa.role.assigned_outside_pim"])
case("pa.role.permanent near miss: timebound eligible assignment", audit("Add eligible member to role in PIM completed (timebound)", service="PIM"),
     tags=["pa.role.assigned"], absent=["pa.role.permanent"])
case("pa.role.permanent: PIM adminAssign with noExpiration", pim_request(action="adminAssign", exp_type="noExpiration"),
     tags=["pa.role.assigned", "pa.role.permanent", "pa.role.tier0"], absent=["pa.pim.activation"], tier=0)
case("pa.role.removed: Global Administrator removed", audit("Remove member from role"), tags=["pa.role.removed", "pa.role.tier0"], absent=["pa.role.assigned"])
case("pa.role.removed near miss: removal only requested", audit("Remove member from role in PIM requested (permanent)", service="PIM"), absent=["pa.role.removed"])
case("pa.role.assigned near miss: failed assignment", audit("Add member to role", result="failure"), absent=["pa.role.assigned", "pa.role.assigned_outside_pim"])

# PIM activation family
case("pa.pim.activation: self-activation with a good justification", pim_request(),
     tags=["pa.pim.activation", "pa.role.tier0"], absent=["pa.pim.no_justification", "pa.pim.long_activation", "pa.role.assigned"], tier=0, severity=5,
     cef={"act": "selfActivate", "cs3": "Investigating incident INC-4711 in production"})
case("pa.pim.activation near miss: denied activation", pim_request(status="Denied"), absent=["pa.pim.activation"])
case("pa.pim.activation: audit record of a completed activation", audit("Add member to role completed (PIM activation)", service="PIM", reason="Rotate the break-glass credentials per runbook"),
     tags=["pa.pim.activation"], absent=["pa.role.assigned", "pa.pim.no_justification"])
case("pa.pim.activation near miss: canceled activation", audit("Add member to role canceled (PIM activation)", service="PIM"), absent=["pa.pim.activation"])
case("pa.pim.no_justification: 5-character justification", pim_request(justification="fixes"),
     tags=["pa.pim.activation", "pa.pim.no_justification"], severity=7)
case("pa.pim.no_justification near miss: 12-character justification", pim_request(justification="INC-4711 fix"),
     tags=["pa.pim.activation"], absent=["pa.pim.no_justification"])
case("pa.pim.no_justification: configured minimum of 20 characters", pim_request(justification="INC-4711 fix"), config={"pim_min_justification_chars": 20},
     tags=["pa.pim.no_justification"])
case("pa.pim.long_activation: 10 hour activation", pim_request(duration="PT10H"), tags=["pa.pim.activation", "pa.pim.long_activation"], severity=6)
case("pa.pim.long_activation near miss: 8 hour activation", pim_request(duration="PT8H"), tags=["pa.pim.activation"], absent=["pa.pim.long_activation"])
case("pa.pim.long_activation: configured maximum of 1h", pim_request(duration="PT2H"), config={"pim_max_activation": "1h"}, tags=["pa.pim.long_activation"])

# break-glass
case("pa.breakglass.signin: failed sign-in by the break-glass account", signin(upn="bg-01@contoso.example", error=50126), config=BG,
     tags=["pa.breakglass.signin"], severity=10, ecs={"event.outcome": "failure"}, cef={"outcome": "failure", "reason": "50126"})
case("pa.breakglass.signin near miss: a similar but different account", signin(upn="bg-02@contoso.example"), config=BG, absent=["pa.breakglass.signin", "pa.signin.privileged"])
case("pa.breakglass.activity: break-glass account changes a role", audit("Add member to role", actor_upn="BG-01@contoso.example"), config=BG,
     tags=["pa.breakglass.activity", "pa.role.assigned"], severity=9)
case("pa.breakglass.activity near miss: break-glass account is only the target", audit("Update user", target_upn="bg-01@contoso.example", category="UserManagement"), config=BG,
     absent=["pa.breakglass.activity"])

# sign-ins by privileged users
case("pa.signin.privileged: sign-in by a listed privileged principal with MFA on a compliant device", signin(), config=ROSTER,
     tags=["pa.signin.privileged"], absent=["pa.signin.no_mfa", "pa.signin.legacy_auth", "pa.signin.unmanaged_device", "pa.signin.nonadmin_app", "pa.signin.risky"], severity=3)
case("pa.signin.privileged near miss: ordinary user", signin(upn="dave@contoso.example", uid="d0000000-0000-0000-0000-0000000000d1"), config=ROSTER,
     absent=["pa.signin.privileged"], tier=None, severity=1)
case("pa.signin.no_mfa: privileged single-factor success", signin(requirement="singleFactorAuthentication", mfa_step=False), config=ROSTER,
     tags=["pa.signin.privileged", "pa.signin.no_mfa"], severity=8)
case("pa.signin.no_mfa near miss: single factor but MFA satisfied by claim", signin(requirement="singleFactorAuthentication", mfa_step=True), config=ROSTER,
     tags=["pa.signin.privileged"], absent=["pa.signin.no_mfa"])
case("pa.signin.no_mfa near miss: failed single-factor attempt", signin(requirement="singleFactorAuthentication", mfa_step=False, error=50126), config=ROSTER,
     absent=["pa.signin.no_mfa"])
case("pa.signin.legacy_auth: IMAP sign-in by a privileged user", signin(client="IMAP4"), config=ROSTER, tags=["pa.signin.legacy_auth"], severity=8)
case("pa.signin.legacy_auth near miss: modern desktop client", signin(client="Mobile Apps and Desktop clients"), config=ROSTER, absent=["pa.signin.legacy_auth"])
case("pa.signin.unmanaged_device: neither compliant nor managed", signin(compliant=False, managed=False), config=ROSTER, tags=["pa.signin.unmanaged_device"], severity=6)
case("pa.signin.unmanaged_device near miss: managed but not compliant", signin(compliant=False, managed=True), config=ROSTER, absent=["pa.signin.unmanaged_device"])
case("pa.signin.nonadmin_app: admin reads mail", signin(app="Office 365 Exchange Online"), config=ROSTER, tags=["pa.signin.nonadmin_app"], severity=5)
case("pa.signin.nonadmin_app near miss: admin uses the Azure portal", signin(app="Azure Portal"), config=ROSTER, absent=["pa.signin.nonadmin_app"])
case("pa.signin.risky: high risk during sign-in", signin(risk="high"), config=ROSTER, tags=["pa.signin.risky"], severity=8)
case("pa.signin.risky near miss: low risk", signin(risk="low"), config=ROSTER, absent=["pa.signin.risky"])
case("roster learning: an assignment followed by that person's sign-in is tagged",
     None, inputs=[audit("Add member to role", target_upn="erin@contoso.example", target_id="e0000000-0000-0000-0000-0000000000e1"),
                   signin(upn="erin@contoso.example", uid="e0000000-0000-0000-0000-0000000000e1", requirement="singleFactorAuthentication", mfa_step=False)],
     tags=["pa.signin.privileged", "pa.signin.no_mfa", "pa.role.tier0"], tier=0)
case("roster learning near miss: removal before the sign-in",
     None, inputs=[audit("Add member to role", target_upn="erin@contoso.example", target_id="e0000000-0000-0000-0000-0000000000e1"),
                   audit("Remove member from role", target_upn="erin@contoso.example", target_id="e0000000-0000-0000-0000-0000000000e1"),
                   signin(upn="erin@contoso.example", uid="e0000000-0000-0000-0000-0000000000e1")],
     absent=["pa.signin.privileged"])

# accounts
case("pa.account.external_admin: Global Administrator to a guest", audit("Add member to role", target_upn="mallory_fabrikam.example#EXT#@contoso.onmicrosoft.com"),
     tags=["pa.account.external_admin"], severity=9)
case("pa.account.external_admin: role to a personal Microsoft account", audit("Add member to role", target_upn="mallory@outlook.com"), tags=["pa.account.external_admin"])
case("pa.account.external_admin near miss: guest gets a non-privileged role", audit("Add member to role", target_upn="mallory_fabrikam.example#EXT#@contoso.onmicrosoft.com",
     role_name="Message Center Reader", role_id="790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b"), absent=["pa.account.external_admin"])
case("pa.account.credential_change: password reset on a privileged account", audit("Reset user password", category="UserManagement", target_upn="carol@contoso.example",
     role_name="", role_id=""), config=ROSTER, tags=["pa.account.credential_change"], severity=6)
case("pa.account.credential_change near miss: password reset on an ordinary account", audit("Reset user password", category="UserManagement", target_upn="dave@contoso.example",
     role_name="", role_id=""), config=ROSTER, absent=["pa.account.credential_change"])
case("pa.account.new_admin: account created an hour before it gets Global Administrator", None,
     inputs=[dict(audit("Add user", category="UserManagement", target_upn="frank@contoso.example", target_id="f0000000-0000-0000-0000-0000000000f1", role_name="", role_id=""), activityDateTime="2026-03-04T09:15:30Z"),
             audit("Add member to role", target_upn="frank@contoso.example", target_id="f0000000-0000-0000-0000-0000000000f1")],
     tags=["pa.account.new_admin", "pa.role.assigned"], severity=8)
case("pa.account.new_admin near miss: account created three days earlier", None,
     inputs=[dict(audit("Add user", category="UserManagement", target_upn="frank@contoso.example", target_id="f0000000-0000-0000-0000-0000000000f1", role_name="", role_id=""), activityDateTime="2026-03-01T09:15:30Z"),
             audit("Add member to role", target_upn="frank@contoso.example", target_id="f0000000-0000-0000-0000-0000000000f1")],
     tags=["pa.role.assigned"], absent=["pa.account.new_admin"])

# tenant
fed = audit("Set domain authentication", category="DirectoryManagement", target_type="Domain", target_upn="contoso.example", role_name="", role_id="")
case("pa.tenant.federation_change: domain switched to federated", fed, tags=["pa.tenant.federation_change"], severity=9)
case("pa.tenant.federation_change near miss: unrelated domain update", dict(audit("Update domain", category="DirectoryManagement", target_type="Domain", target_upn="contoso.example", role_name="", role_id=""),
     targetResources=[{"id": "d1", "displayName": "contoso.example", "type": "Domain", "modifiedProperties": [{"displayName": "IsDefault", "oldValue": "false", "newValue": "true"}]}]),
     absent=["pa.tenant.federation_change"])
ca = audit("Update conditional access policy", category="Policy", target_type="Policy", target_upn="Require MFA for admins", role_name="", role_id="")
case("pa.tenant.conditional_access_change: CA policy updated", ca, tags=["pa.tenant.conditional_access_change"], severity=7, ecs={"event.category": ["configuration"]})
case("pa.tenant.conditional_access_change near miss: named location read", audit("Get named location", category="Policy", target_type="Policy", target_upn="HQ", role_name="", role_id=""),
     absent=["pa.tenant.conditional_access_change"])

# apps
approle = audit("Add app role assignment to service principal", category="ApplicationManagement", target_type="ServicePrincipal", target_upn="", role_name="", role_id="",
                extra_props=[{"displayName": "AppRole.Value", "oldValue": None, "newValue": "\"RoleManagement.ReadWrite.Directory\""}])
case("pa.app.privileged_permission: RoleManagement.ReadWrite.Directory granted", approle, tags=["pa.app.privileged_permission"], severity=8)
approle2 = audit("Add app role assignment to service principal", category="ApplicationManagement", target_type="ServicePrincipal", target_upn="", role_name="", role_id="",
                 extra_props=[{"displayName": "AppRole.Value", "oldValue": None, "newValue": "\"User.Read.All\""}])
case("pa.app.privileged_permission near miss: User.Read.All granted", approle2, absent=["pa.app.privileged_permission"])
case("pa.app.privileged_permission: service principal made Privileged Role Administrator",
     audit("Add member to role", target_type="ServicePrincipal", target_upn="", role_name="Privileged Role Administrator", role_id="e8611ab8-c189-46e8-94e1-60213ab1f814"),
     tags=["pa.app.privileged_permission", "pa.role.assigned"])

# Azure
case("pa.azure.privileged_role_assignment: Owner at subscription scope", activity("Microsoft.Authorization/roleAssignments/write"),
     tags=["pa.azure.privileged_role_assignment", "pa.role.tier0"], severity=9, tier=0,
     ecs={"event.category": ["iam"], "event.type": ["admin", "creation"], "cloud.account.id": "dfa2a084-766f-4003-8ae1-c4aeb893a99f"})
case("pa.azure.privileged_role_assignment: Owner at resource-group scope", activity("Microsoft.Authorization/roleAssignments/write", scope="/subscriptions/dfa2a084-766f-4003-8ae1-c4aeb893a99f/resourceGroups/prod-rg"),
     tags=["pa.azure.privileged_role_assignment"], severity=7)
case("pa.azure.privileged_role_assignment near miss: Reader at subscription scope", activity("Microsoft.Authorization/roleAssignments/write", role=READER),
     absent=["pa.azure.privileged_role_assignment"], tier=2)
case("pa.azure.role_assignment_removed: Owner assignment deleted", activity("Microsoft.Authorization/roleAssignments/delete"), tags=["pa.azure.role_assignment_removed"])
case("pa.azure.role_assignment_removed near miss: deletion failed", activity("Microsoft.Authorization/roleAssignments/delete", status="Failed"), absent=["pa.azure.role_assignment_removed"])
case("pa.azure.subscription_ownership: subscription moved to another tenant", activity("Microsoft.Subscription/subscriptions/changeTenantRequest/action"),
     tags=["pa.azure.subscription_ownership"], severity=8)
case("pa.azure.subscription_ownership near miss: subscription renamed", activity("Microsoft.Subscription/subscriptions/rename/action"), absent=["pa.azure.subscription_ownership"])

def dump(path, header, cs):
    with open(path, "w") as f:
        f.write(header)
        yaml.safe_dump({"cases": cs}, f, sort_keys=False, width=140, allow_unicode=True)

dump(os.path.join(ROOT, "mappings/tests/detections/catalogue.yaml"),
     "# Golden cases for the privileged-access detection catalogue (docs/detections.md): every detection\n"
     "# has a positive case and a near-miss negative case. Run: siem-connector test mappings/tests\n", cases)

# The quickstart scenario: the positive inputs, as one NDJSON stream.
with open(os.path.join(ROOT, "config/quickstart-data/privileged-scenario.ndjson"), "w") as f:
    seen = set()
    for c in cases:
        if "near miss" in c["name"]: continue
        for r in (c.get("inputs") or [c["input"]]):
            s = json.dumps(r, separators=(",", ":"))
            if s in seen: continue
            seen.add(s); f.write(s + "\n")
print(len(cases), "cases")
