"""Generates the golden cases of the application, tenant-authentication, elevate-access, MFA-removal
and service-principal detections (docs/detections.md) into mappings/tests/detections/:
apps.yaml, tenant_auth_policy.yaml, azure_elevate.yaml, account_mfa.yaml, service_principals.yaml.

Records follow the shapes Entra ID and Azure write: Graph directoryAudit / signIn (beta for
service principal and managed identity sign-ins), the same audit inside a diagnostic-settings
(Event Hubs) envelope, the Activity Log as ARM REST EventData and as an Event Hubs record. Values
are Entra's own spellings: modifiedProperties values are JSON text (quoted strings), KeyDescription
lists "[KeyIdentifier=…,KeyType=…,KeyUsage=…,DisplayName=…]", ConsentAction.Permissions writes
"old => [[…, ConsentType: AllPrincipals, Scope:  …]]; ", RequiredResourceAccess names permissions by
EntitlementId. Every case lists every pa.* tag the event gets (`tags`), and near misses name the
tags that must stay away (`absent_tags`). Re-run after changing it: python3 scripts/gen-app-detection-cases.py
"""
import copy, json, os, yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TENANT = "1114444b-7467-4144-a616-e3a5d63e147b"
GRAPH_SP = "6f1c8e1a-0000-4c4d-9a1b-00000000a0a0"      # Microsoft Graph's service principal in the tenant
CLIENT_SP = "3c2a9b10-5d4e-4f00-8a11-0000000000c5"     # the client application's service principal
CLIENT_APP = "b7e0e9a4-2f3c-4e41-9c55-0000000000a9"    # its application (client) id
CLIENT_OBJ = "0a9b8c7d-1111-4222-8333-0000000000ab"    # its application object
ALICE = {"id": "4f1c0000-0000-0000-0000-0000000000a1", "displayName": None, "userPrincipalName": "alice@contoso.example",
         "ipAddress": "203.0.113.10", "userType": None, "homeTenantId": None, "homeTenantName": None}
ROSTER = {"privileged_principals": ["carol@contoso.example"]}
CAROL = ("carol@contoso.example", "c0000000-0000-0000-0000-0000000000c1")
DAVE = ("dave@contoso.example", "d0000000-0000-0000-0000-0000000000d1")


def q(v):
    """A modifiedProperties value as Entra writes it: JSON text (strings quoted)."""
    return None if v is None else json.dumps(v)


def prop(name, new, old=None, raw=False):
    return {"displayName": name, "oldValue": old if raw else q(old), "newValue": new if raw else q(new)}


def audit(op, category, targets, service="Core Directory", result="success", details=None, op_type="Update",
          initiated=None, rid="Directory_7c4e1f2a_1"):
    return {
        "id": rid, "category": category, "correlationId": "9d1e0000-0000-0000-0000-0000000000f0", "result": result,
        "resultReason": "" if result == "success" else "Microsoft.Online.Workflows.ObjectNotFoundException",
        "activityDisplayName": op, "activityDateTime": "2026-03-05T08:01:02.1234567Z", "loggedByService": service,
        "operationType": op_type, "initiatedBy": initiated or {"user": ALICE, "app": None},
        "targetResources": targets,
        "additionalDetails": details if details is not None else [{"key": "User-Agent", "value": "python-requests/2.31.0"}],
    }


def target(tid, name, ttype, props):
    return {"id": tid, "displayName": name, "type": ttype, "userPrincipalName": None, "groupType": None,
            "modifiedProperties": props}


def user_target(upn_id, props=None):
    return {"id": upn_id[1], "displayName": None, "type": "User", "userPrincipalName": upn_id[0], "modifiedProperties": props or []}


def eventhub(a):
    """The directoryAudit inside a diagnostic-settings record (Event Hubs / storage / Log Analytics export)."""
    inner = copy.deepcopy(a)
    return {"time": "2026-03-05T08:03:11.0000000Z", "resourceId": f"/tenants/{TENANT}/providers/Microsoft.aadiam",
            "operationName": a["activityDisplayName"], "operationVersion": "1.0", "category": "AuditLogs", "tenantId": TENANT,
            "resultSignature": "None", "durationMs": 0, "callerIpAddress": "203.0.113.10",
            "correlationId": a["correlationId"], "Level": 4, "properties": inner}


def sp_signin(sp_id=CLIENT_SP, app_id=CLIENT_APP, name="Contoso Backup Automation", risk="none", state="none",
              types=("servicePrincipal",)):
    """A Graph (beta) signIn of a service principal or managed identity: no user fields."""
    return {
        "id": "5e1f0000-7777-4c3b-9e00-000000000051", "createdDateTime": "2026-03-05T09:12:44Z",
        "appId": app_id, "appDisplayName": name, "servicePrincipalId": sp_id, "servicePrincipalName": name,
        "userId": "", "userPrincipalName": "", "userDisplayName": "", "ipAddress": "198.51.100.40",
        "resourceDisplayName": "Microsoft Graph", "resourceId": "00000003-0000-0000-c000-000000000000",
        "clientCredentialType": "clientSecret", "servicePrincipalCredentialKeyId": "8f1e3c0a-5b6d-4e7f-9a0b-1c2d3e4f5a6b",
        "authenticationRequirement": "singleFactorAuthentication", "isInteractive": False,
        "signInEventTypes": list(types), "riskLevelDuringSignIn": risk, "riskLevelAggregated": "none", "riskState": state,
        "conditionalAccessStatus": "notApplied", "status": {"errorCode": 0, "failureReason": None},
        "location": {"city": "Dublin", "countryOrRegion": "IE"},
    }


def user_signin(upn_id=CAROL, risk="none", state="none", app=("Azure Portal", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c")):
    return {
        "id": "66ea54eb-0000-4ee5-be62-ff5a759b0101", "createdDateTime": "2026-03-05T10:21:07.456Z", "userDisplayName": "Carol",
        "userPrincipalName": upn_id[0], "userId": upn_id[1], "appId": app[1], "appDisplayName": app[0],
        "ipAddress": "198.51.100.23", "clientAppUsed": "Browser", "isInteractive": True, "authenticationRequirement": "multiFactorAuthentication",
        "authenticationDetails": [{"authenticationMethod": "Password", "succeeded": True, "authenticationStepRequirement": "Primary authentication"},
                                  {"authenticationMethod": "Mobile app notification", "succeeded": True, "authenticationStepRequirement": "MFA"}],
        "riskLevelDuringSignIn": risk, "riskLevelAggregated": "none", "riskState": state, "signInEventTypes": ["interactiveUser"],
        "status": {"errorCode": 0}, "servicePrincipalId": "",
        "deviceDetail": {"deviceId": "d1", "operatingSystem": "Windows 10", "browser": "Edge", "isCompliant": True, "isManaged": True},
    }


def activity_rest(op, status="Succeeded", sub_status="OK", scope="/providers/Microsoft.Authorization"):
    """ARM Activity Log EventData (REST)."""
    return {
        "authorization": {"action": op, "scope": scope}, "caller": "alice@contoso.example",
        "claims": {"ipaddr": "203.0.113.10", "name": "Alice",
                   "http://schemas.microsoft.com/identity/claims/objectidentifier": ALICE["id"]},
        "correlationId": "c0ffee00-0000-0000-0000-00000000e1e1", "eventDataId": "e7e1d000-0000-0000-0000-0000000000e1",
        "category": {"value": "Administrative", "localizedValue": "Administrative"}, "eventName": {"value": "EndRequest"},
        "eventTimestamp": "2026-03-05T08:30:00.1234567Z", "submissionTimestamp": "2026-03-05T08:30:20Z",
        "httpRequest": {"clientIpAddress": "203.0.113.10", "method": "POST"}, "level": "Informational",
        "operationName": {"value": op, "localizedValue": "Assign the caller to User Access Administrator role"},
        "resourceId": scope, "status": {"value": status}, "subStatus": {"value": sub_status},
        "tenantId": TENANT, "properties": {"statusCode": sub_status, "eventCategory": "Administrative", "entity": scope, "message": op},
    }


def activity_eventhub(op, result="Success", signature="Succeeded.OK", resource="/providers/Microsoft.Authorization",
                      body=None, evidence=None):
    """An Activity Log record as diagnostic settings write it (Event Hubs)."""
    props = {"statusCode": "OK", "serviceRequestId": None, "eventCategory": "Administrative", "entity": resource, "message": op, "hierarchy": ""}
    if body is not None:
        props["requestbody"] = json.dumps(body)
    ident = {"authorization": {"scope": resource, "action": op},
             "claims": {"aud": "https://management.core.windows.net/", "iss": f"https://sts.windows.net/{TENANT}/",
                        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "alice@contoso.example",
                        "http://schemas.microsoft.com/identity/claims/objectidentifier": ALICE["id"], "name": "Alice",
                        "ipaddr": "203.0.113.10"}}
    if evidence:
        ident["authorization"]["evidence"] = evidence
    return {"time": "2026-03-05T08:30:00.1234567Z", "resourceId": resource.upper(), "operationName": op.upper(),
            "category": "Administrative", "resultType": result, "resultSignature": signature, "durationMs": "412",
            "callerIpAddress": "203.0.113.10", "correlationId": "c0ffee00-0000-0000-0000-00000000e1e2",
            "identity": ident, "level": "Information", "location": "global", "properties": props}


files = {}


def case(file, name, inp=None, tags=(), absent=(), tier="skip", severity=None, config=None, inputs=None, ecs=None, cef=None, source=None):
    c = {"name": name}
    if source: c["source"] = source
    if config: c["config"] = config
    if inputs: c["inputs"] = inputs
    else: c["input"] = inp
    e = {"tags": list(tags)}
    if absent: e["absent_tags"] = list(absent)
    if tier != "skip": e["tier"] = tier
    if severity is not None: e["severity"] = severity
    if ecs: e["ecs"] = ecs
    if cef: e["cef"] = cef
    c["expect"] = e
    files.setdefault(file, []).append(c)


# ---------------------------------------------------------------- applications (apps.yaml)
KEY_NEW = "[KeyIdentifier=8f1e3c0a-5b6d-4e7f-9a0b-1c2d3e4f5a6b, KeyType=Password, KeyUsage=Verify, DisplayName=backup-2026]"
KEY_OLD = "[KeyIdentifier=2a7b9c1d-0e3f-4a5b-8c6d-7e8f9a0b1c2d, KeyType=AsymmetricX509Cert, KeyUsage=Verify, DisplayName=CN=contoso-backup]"
APP_DETAILS = [{"key": "User-Agent", "value": "python-requests/2.31.0"}, {"key": "AppId", "value": CLIENT_APP}]
sp_cred = audit("Add service principal credentials", "ApplicationManagement",
                [target(CLIENT_SP, "Contoso Backup Automation", "ServicePrincipal",
                        [prop("KeyDescription", json.dumps([KEY_NEW]), "[]", raw=True),
                         prop("Included Updated Properties", "KeyDescription")])], details=APP_DETAILS)
CERTS_OP = "Update application \u2013 Certificates and secrets management "   # Microsoft writes an en dash and a trailing space
app_cert = lambda new, old: audit(CERTS_OP, "ApplicationManagement",
                                  [target(CLIENT_OBJ, "Contoso Backup Automation", "Application",
                                          [prop("KeyDescription", json.dumps(new), json.dumps(old), raw=True),
                                           prop("Included Updated Properties", "KeyDescription")])], details=APP_DETAILS)
APPS = "apps.yaml"
case(APPS, "pa.app.credential_added: 'Add service principal credentials' (Graph)", sp_cred,
     tags=["pa.app.credential_added"], absent=["pa.app.privileged_permission"], tier=None, severity=6,
     ecs={"event.action": "Add service principal credentials", "user.name": "alice@contoso.example"},
     cef={"name": "Add service principal credentials", "suser": "alice@contoso.example"})
case(APPS, "pa.app.credential_added: a second secret in 'Certificates and secrets management' (Event Hubs)",
     eventhub(app_cert([KEY_OLD, KEY_NEW], [KEY_OLD])), tags=["pa.app.credential_added"], tier=None, severity=6)
case(APPS, "pa.app.credential_added near miss: 'Certificates and secrets management' removing a secret",
     app_cert([KEY_OLD], [KEY_OLD, KEY_NEW]), tags=[], absent=["pa.app.credential_added"], tier=None)
case(APPS, "pa.app.credential_added near miss: 'Remove service principal credentials'",
     dict(sp_cred, activityDisplayName="Remove service principal credentials",
          targetResources=[target(CLIENT_SP, "Contoso Backup Automation", "ServicePrincipal",
                                  [prop("KeyDescription", "[]", json.dumps([KEY_NEW]), raw=True)])]),
     tags=[], absent=["pa.app.credential_added"], tier=None)
case(APPS, "pa.app.credential_added near miss: the credential addition failed",
     dict(sp_cred, result="failure"), tags=[], absent=["pa.app.credential_added"])
fic = audit("Update application", "ApplicationManagement",
            [target(CLIENT_OBJ, "Contoso Deploy", "Application",
                    [prop("FederatedIdentityCredentials",
                          json.dumps([{"Name": "gh-actions-main", "Issuer": "https://token.actions.githubusercontent.com",
                                       "Subject": "repo:contoso/deploy:ref:refs/heads/main", "Audiences": ["api://AzureADTokenExchange"]}]),
                          "[]", raw=True),
                     prop("Included Updated Properties", "FederatedIdentityCredentials")])], details=APP_DETAILS)
case(APPS, "pa.app.credential_added: federated identity credential on 'Update application'", fic,
     tags=["pa.app.credential_added"], tier=None, severity=6)

# App role grants: the first target is the resource (Microsoft Graph); ServicePrincipal.* name the grantee.
def app_role_grant(value, role_id, op="Add app role assignment to service principal", sp=CLIENT_SP, app=CLIENT_APP, name="Contoso Backup Automation"):
    new = lambda v: v if op.startswith("Add") else None
    old = lambda v: None if op.startswith("Add") else v
    return audit(op, "ApplicationManagement",
                 [target(GRAPH_SP, "Microsoft Graph", "ServicePrincipal",
                         [prop("AppRole.Id", new(role_id), old(role_id)), prop("AppRole.Value", new(value), old(value)),
                          prop("AppRole.DisplayName", new("Read and write all directory RBAC settings"), old("Read and write all directory RBAC settings")),
                          prop("AppRoleAssignment.CreatedDateTime", new("3/5/2026 8:01:02 AM"), old("3/5/2026 8:01:02 AM")),
                          prop("ServicePrincipal.ObjectID", new(sp), old(sp)), prop("ServicePrincipal.DisplayName", new(name), old(name)),
                          prop("ServicePrincipal.AppId", new(app), old(app)), prop("ServicePrincipal.Name", new(app), old(app)),
                          prop("TargetId.ServicePrincipalNames", new("00000003-0000-0000-c000-000000000000;https://graph.microsoft.com"),
                               old("00000003-0000-0000-c000-000000000000;https://graph.microsoft.com"))])],
                 op_type="Assign")
RMRWD = ("RoleManagement.ReadWrite.Directory", "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8")
grant = app_role_grant(*RMRWD)
case(APPS, "pa.app.privileged_permission: RoleManagement.ReadWrite.Directory to a service principal, named as the grantee",
     grant, tags=["pa.app.privileged_permission"], tier=None, severity=8)
case(APPS, "pa.app.credential_added: severity 8 on a service principal that holds RoleManagement.ReadWrite.Directory (learned, matched by app id)",
     None, inputs=[grant, eventhub(app_cert([KEY_OLD, KEY_NEW], [KEY_OLD]))],
     tags=["pa.app.credential_added"], tier=None, severity=8)
case(APPS, "pa.app.credential_added near miss for severity 8: the app role was removed before the credential was added",
     None, inputs=[grant, app_role_grant(*RMRWD, op="Remove app role assignment from service principal"),
                   app_cert([KEY_OLD, KEY_NEW], [KEY_OLD])],
     tags=["pa.app.credential_added"], tier=None, severity=6)
case(APPS, "pa.app.credential_added: severity 8 on a service principal listed in privileged_principals",
     sp_cred, config={"privileged_principals": [CLIENT_SP]}, tags=["pa.app.credential_added"], severity=8)

# Required permissions in the manifest ("Update application" / RequiredResourceAccess): EntitlementId.
def rra(*perms, resource="00000003-0000-0000-c000-000000000000"):
    return json.dumps([{"ResourceAppId": resource, "RequiredAppPermissions": [
        {"EntitlementId": p, "DirectAccessGrant": d, "ImpersonationAccessGrants": [] if d else [20]} for p, d in perms],
        "EncodingVersion": 1}])
USER_READ = ("e1fe6dd8-ba31-4d61-89e7-88639da4683d", False)   # delegated User.Read
manifest = lambda new, old, name="Contoso Backup Automation": audit(
    "Update application", "ApplicationManagement",
    [target(CLIENT_OBJ, name, "Application",
            [prop("RequiredResourceAccess", new, old, raw=True), prop("Included Updated Properties", "RequiredResourceAccess")])],
    details=APP_DETAILS)
case(APPS, "pa.app.privileged_permission: manifest adds RoleManagement.ReadWrite.Directory (by id)",
     manifest(rra(USER_READ, ("9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8", True)), rra(USER_READ)),
     tags=["pa.app.privileged_permission"], absent=["pa.app.credential_added"], tier=None, severity=8,
     ecs={"event.action": "Update application"})
case(APPS, "pa.app.privileged_permission: manifest adds Exchange full_access_as_app (Event Hubs)",
     eventhub(manifest(rra(("dc890d15-9560-4a4c-9b7f-a736ec74ec40", True), resource="00000002-0000-0ff1-ce00-000000000000"), "[]")),
     tags=["pa.app.privileged_permission"], tier=None, severity=8)
case(APPS, "pa.app.privileged_permission: a configured list naming RoleManagement.ReadWrite.Directory matches the manifest's id",
     manifest(rra(USER_READ, ("9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8", True)), rra(USER_READ)),
     config={"privileged_app_roles": ["RoleManagement.ReadWrite.Directory"]}, tags=["pa.app.privileged_permission"], severity=8)
case(APPS, "pa.app.privileged_permission near miss: a configured list without full_access_as_app leaves its id silent",
     manifest(rra(("dc890d15-9560-4a4c-9b7f-a736ec74ec40", True), resource="00000002-0000-0ff1-ce00-000000000000"), "[]"),
     config={"privileged_app_roles": ["RoleManagement.ReadWrite.Directory"]}, tags=[], absent=["pa.app.privileged_permission"])
case(APPS, "pa.app.privileged_permission near miss: manifest adds User.Read.All (not on the list)",
     manifest(rra(USER_READ, ("df021288-bdef-4463-88db-98f22de89214", True)), rra(USER_READ)),
     tags=[], absent=["pa.app.privileged_permission"], tier=None)
case(APPS, "pa.app.privileged_permission near miss: manifest keeps RoleManagement.ReadWrite.Directory it already had",
     manifest(rra(USER_READ, ("9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8", True)), rra(("9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8", True))),
     tags=[], absent=["pa.app.privileged_permission"], tier=None)

# Consent.
def consent(admin, all_principals, scope, principal=""):
    ctype = "AllPrincipals" if all_principals else "Principal"
    perms = (f"[] => [[Id: bXktZ3JhbnQtaWQ, ClientId: {CLIENT_SP}, PrincipalId: {principal}, ResourceId: {GRAPH_SP}, "
             f"ConsentType: {ctype}, Scope:  {scope}, CreatedDateTime: , LastModifiedDateTime ]]; ")
    return audit("Consent to application", "ApplicationManagement",
                 [target(CLIENT_SP, "Contoso Mail Archiver", "ServicePrincipal",
                         [prop("ConsentContext.IsAdminConsent", "True" if admin else "False"),
                          prop("ConsentContext.IsAppOnly", "False"),
                          prop("ConsentContext.OnBehalfOfAll", "True" if all_principals else "False"),
                          prop("ConsentContext.Tags", "WindowsAzureActiveDirectoryIntegratedApp"),
                          prop("ConsentAction.Permissions", perms),
                          prop("TargetId.ServicePrincipalNames", CLIENT_APP)])],
                 op_type="Assign", details=[{"key": "User-Agent", "value": "Mozilla/5.0"}, {"key": "AppId", "value": CLIENT_APP}])
case(APPS, "pa.app.consent_granted: admin consent for all principals including Mail.ReadWrite", consent(True, True, "openid profile offline_access User.Read Mail.ReadWrite"),
     tags=["pa.app.consent_granted"], tier=None, severity=8, ecs={"event.action": "Consent to application"})
case(APPS, "pa.app.consent_granted: admin consent to low scopes (Event Hubs) gets severity 6",
     eventhub(consent(True, True, "openid profile User.Read")), tags=["pa.app.consent_granted"], tier=None, severity=6)
case(APPS, "pa.app.consent_granted near miss: a user consents for themselves only",
     consent(False, False, "openid profile User.Read", principal=DAVE[1]), tags=[], absent=["pa.app.consent_granted"], tier=None)

def delegated(scope, ctype, old_scope=None, op="Add delegated permission grant"):
    return audit(op, "ApplicationManagement",
                 [target(GRAPH_SP, "Microsoft Graph", "ServicePrincipal",
                         [prop("DelegatedPermissionGrant.Scope", " " + scope, None if old_scope is None else " " + old_scope),
                          prop("DelegatedPermissionGrant.ConsentType", ctype),
                          prop("ServicePrincipal.ObjectID", CLIENT_SP),
                          prop("TargetId.ServicePrincipalNames", "00000003-0000-0000-c000-000000000000;https://graph.microsoft.com")])],
                 op_type="Assign")
case(APPS, "pa.app.consent_granted and pa.app.privileged_permission: AllPrincipals grant of Directory.AccessAsUser.All (Event Hubs)",
     eventhub(delegated("User.Read Directory.AccessAsUser.All", "AllPrincipals")),
     tags=["pa.app.consent_granted", "pa.app.privileged_permission"], tier=None, severity=8)
case(APPS, "pa.app.privileged_permission: a single user's delegated grant of Mail.ReadWrite (not tenant-wide)",
     delegated("User.Read Mail.ReadWrite", "Principal"), tags=["pa.app.privileged_permission"], absent=["pa.app.consent_granted"], severity=8)
case(APPS, "pa.app.privileged_permission: an update of a delegated grant that adds RoleManagement.ReadWrite.Directory",
     delegated("User.Read RoleManagement.ReadWrite.Directory", "AllPrincipals", old_scope="User.Read", op="Update delegated permission grant"),
     tags=["pa.app.privileged_permission"], absent=["pa.app.consent_granted"], severity=8)
case(APPS, "pa.app.consent_granted near miss: a single user's delegated grant of User.Read",
     delegated("User.Read", "Principal"), tags=[], absent=["pa.app.consent_granted", "pa.app.privileged_permission"], tier=None)
case(APPS, "pa.app.privileged_permission: configured list without Mail.ReadWrite leaves the grant silent",
     delegated("User.Read Mail.ReadWrite", "Principal"), config={"privileged_app_roles": ["RoleManagement.ReadWrite.Directory"]},
     tags=[], absent=["pa.app.privileged_permission"])
case(APPS, "severities: pa.app.consent_granted overridden to 4", consent(True, True, "openid profile User.Read"),
     config={"severities": {"pa.app.consent_granted": 4}}, tags=["pa.app.consent_granted"], severity=4)

# ---------------------------------------------------------------- elevate access (azure_elevate.yaml)
EL = "azure_elevate.yaml"
elevate_audit = audit("User has elevated their access to User Access Administrator for their Azure Resources",
                      "AzureRBACRoleManagementElevateAccess", [], service="Azure RBAC (Elevated Access)", op_type="Assign",
                      details=[])
case(EL, "pa.azure.elevate_access: Entra audit of a Global Administrator elevating (Graph)", elevate_audit,
     tags=["pa.azure.elevate_access", "pa.role.tier0"], tier=0, severity=9,
     ecs={"azure.privileged_access.roles": ["User Access Administrator"]})
case(EL, "pa.azure.elevate_access: the same audit through Event Hubs", eventhub(elevate_audit),
     tags=["pa.azure.elevate_access", "pa.role.tier0"], tier=0, severity=9)
case(EL, "pa.azure.elevate_access near miss: the elevation failed", dict(elevate_audit, result="failure"),
     tags=["pa.role.tier0"], absent=["pa.azure.elevate_access"])
case(EL, "pa.azure.elevate_access: Activity Log Microsoft.Authorization/elevateAccess/action (ARM REST)",
     activity_rest("Microsoft.Authorization/elevateAccess/action"), tags=["pa.azure.elevate_access", "pa.role.tier0"], tier=0, severity=9)
case(EL, "pa.azure.elevate_access: Activity Log through Event Hubs (operation name in capitals)",
     activity_eventhub("Microsoft.Authorization/elevateAccess/action"), tags=["pa.azure.elevate_access", "pa.role.tier0"], tier=0, severity=9)
case(EL, "pa.azure.elevate_access near miss: the caller is not a Global Administrator (AuthorizationFailed)",
     activity_eventhub("Microsoft.Authorization/elevateAccess/action", result="Failure", signature="Failed.Forbidden"),
     tags=["pa.role.tier0"], absent=["pa.azure.elevate_access"])
case(EL, "pa.azure.elevate_access near miss: the Started record of the operation (its Succeeded twin fires)",
     activity_rest("Microsoft.Authorization/elevateAccess/action", status="Started", sub_status=""),
     tags=["pa.role.tier0"], absent=["pa.azure.elevate_access"])

# ---------------------------------------------------------------- authentication policies (tenant_auth_policy.yaml)
AP = "tenant_auth_policy.yaml"
policy_target = lambda name, props: [target("00000000-0000-0000-0000-00000000a0b0", name, "Policy", props)]
tap = audit("Authentication Methods Policy Update", "Policy",
            policy_target("Authentication Methods Policy",
                          [prop("TemporaryAccessPass", json.dumps({"state": "enabled", "isUsableOnce": False, "maximumLifetimeInMinutes": 480}),
                                json.dumps({"state": "disabled"}), raw=True)]),
            service="Authentication Methods")
case(AP, "pa.tenant.auth_policy_change: Temporary Access Pass enabled in the authentication methods policy", tap,
     tags=["pa.tenant.auth_policy_change"], tier=None, severity=7, ecs={"event.action": "Authentication Methods Policy Update"})
eam = audit("Authentication Methods Policy Update", "Policy",
            policy_target("Authentication Methods Policy",
                          [prop("ExternalAuthenticationMethodConfiguration",
                                json.dumps({"displayName": "Verify", "appId": "4a7e0000-0000-0000-0000-00000000e4e4",
                                            "openIdConnectSetting": {"clientId": "verify-client",
                                                                     "discoveryUrl": "https://login.verify-mfa.example/.well-known/openid-configuration"}}),
                                "null", raw=True)]),
            service="Authentication Methods")
case(AP, "pa.tenant.auth_policy_change: an external authentication method (OIDC discovery URL) added (Event Hubs)", eventhub(eam),
     tags=["pa.tenant.auth_policy_change"], tier=None, severity=9)
idp = audit("Add identity provider", "DirectoryManagement",
            [target("2f3e0000-0000-0000-0000-0000000001d9", "fabrikam-oidc", "Other",
                    [prop("IdentityProvider.Type", "OpenIdConnect"),
                     prop("IdentityProvider.MetadataUrl", "https://idp.fabrikam-partner.example/.well-known/openid-configuration")])],
            service="B2B Collaboration", op_type="Add")
case(AP, "pa.tenant.auth_policy_change: an OIDC identity provider added", idp, tags=["pa.tenant.auth_policy_change"], tier=None, severity=9)
case(AP, "pa.tenant.auth_policy_change: an identity provider deleted weighs 7", dict(idp, activityDisplayName="Delete identity provider", operationType="Delete"),
     tags=["pa.tenant.auth_policy_change"], tier=None, severity=7)
xt = audit("Update a partner cross-tenant access setting", "CrossTenantAccessSettings",
           policy_target("Fabrikam",
                         [prop("b2bCollaborationInbound", json.dumps({"usersAndGroups": {"accessType": "allowed", "targets": [{"target": "AllUsers", "targetType": "user"}]}}),
                               "null", raw=True),
                          prop("inboundTrust", json.dumps({"isMfaAccepted": True, "isCompliantDeviceAccepted": True}), "null", raw=True)]),
           service="Core Directory")
case(AP, "pa.tenant.auth_policy_change: partner cross-tenant access setting trusts the partner's MFA (Event Hubs)", eventhub(xt),
     tags=["pa.tenant.auth_policy_change"], tier=None, severity=7)
case(AP, "pa.tenant.auth_policy_change near miss: a token lifetime policy updated",
     audit("Update policy", "Policy", policy_target("WebPolicyScenario", [prop("PolicyDetail", json.dumps(["{\"TokenLifetimePolicy\":{\"Version\":1,\"AccessTokenLifetime\":\"02:00:00\"}}"]), raw=True)])),
     tags=[], absent=["pa.tenant.auth_policy_change", "pa.tenant.conditional_access_change", "pa.tenant.federation_change"], tier=None)
case(AP, "pa.tenant.auth_policy_change near miss: a B2C user signed in through a federated identity provider",
     audit("Federate with an identity provider", "Authentication",
           [target("2f3e0000-0000-0000-0000-0000000001d9", "fabrikam-oidc", "Other", [])],
           service="B2C", op_type="Other"),
     tags=[], absent=["pa.tenant.auth_policy_change"], tier=None)
case(AP, "pa.tenant.auth_policy_change near miss: the authentication methods policy update failed", dict(tap, result="failure"),
     tags=[], absent=["pa.tenant.auth_policy_change"], tier=None)

# ---------------------------------------------------------------- MFA removed (account_mfa.yaml)
MFA = "account_mfa.yaml"
dsa = audit("Disable Strong Authentication", "UserManagement", [user_target(CAROL)])
case(MFA, "pa.account.mfa_removed: 'Disable Strong Authentication' on a privileged account", dsa, config=ROSTER,
     tags=["pa.account.mfa_removed"], absent=["pa.account.credential_change"], severity=8)
case(MFA, "pa.account.mfa_removed near miss: 'Disable Strong Authentication' on an ordinary account",
     audit("Disable Strong Authentication", "UserManagement", [user_target(DAVE)]), config=ROSTER, tags=[], absent=["pa.account.mfa_removed"], tier=None)
adsi = audit("Admin deleted security info", "UserManagement", [user_target(CAROL)], service="Authentication Methods",
             details=[{"key": "Method", "value": "Microsoft Authenticator"}])
case(MFA, "pa.account.mfa_removed: an administrator deleted a privileged account's authenticator (Event Hubs)", eventhub(adsi), config=ROSTER,
     tags=["pa.account.credential_change", "pa.account.mfa_removed"], severity=8)
case(MFA, "pa.account.mfa_removed near miss: a privileged account registered a new method",
     dict(adsi, activityDisplayName="User registered security info", initiatedBy={"user": dict(ALICE, userPrincipalName=CAROL[0], id=CAROL[1])}),
     config=ROSTER, tags=["pa.account.credential_change"], absent=["pa.account.mfa_removed"], severity=6)
upd = lambda old, new: audit("Update user", "UserManagement",
                             [user_target(CAROL, [prop("StrongAuthenticationMethod", new, old, raw=True),
                                                  prop("Included Updated Properties", "StrongAuthenticationMethod")])])
case(MFA, "pa.account.mfa_removed: 'Update user' clears StrongAuthenticationMethod",
     upd(json.dumps([{"MethodType": 6, "Default": True}, {"MethodType": 7, "Default": False}]), "[]"), config=ROSTER,
     tags=["pa.account.credential_change", "pa.account.mfa_removed"], severity=8)
case(MFA, "pa.account.mfa_removed near miss: 'Update user' changes the default method (methods kept)",
     upd(json.dumps([{"MethodType": 6, "Default": True}]), json.dumps([{"MethodType": 6, "Default": False}, {"MethodType": 7, "Default": True}])),
     config=ROSTER, tags=["pa.account.credential_change"], absent=["pa.account.mfa_removed"], severity=6)

# ---------------------------------------------------------------- service principals (service_principals.yaml)
SP = "service_principals.yaml"
PRA = ("Privileged Role Administrator", "e8611ab8-c189-46e8-94e1-60213ab1f814")
sp_role = audit("Add member to role", "RoleManagement",
                [target(CLIENT_SP, "Contoso Backup Automation", "ServicePrincipal",
                        [prop("Role.ObjectID", "1b2c0000-0000-0000-0000-0000000000f7"), prop("Role.DisplayName", PRA[0]),
                         prop("Role.TemplateId", PRA[1]), prop("Role.WellKnownObjectName", "PrivilegedRoleAdmins")])],
                op_type="Assign")
case(SP, "service principal roster: made Privileged Role Administrator, then its high-risk sign-in is privileged and risky",
     None, inputs=[sp_role, sp_signin(risk="high", state="atRisk")],
     tags=["pa.signin.privileged", "pa.signin.risky", "pa.role.tier0"],
     absent=["pa.signin.no_mfa", "pa.signin.unmanaged_device", "pa.signin.legacy_auth", "pa.signin.nonadmin_app"], tier=0, severity=8,
     ecs={"user.id": CLIENT_SP})
case(SP, "service principal roster near miss: an ordinary service principal's high-risk sign-in",
     sp_signin(risk="high", state="atRisk"), tags=[], absent=["pa.signin.privileged", "pa.signin.risky"], tier=None)
case(SP, "service principal roster: listed by application id in privileged_principals", sp_signin(),
     config={"privileged_principals": [CLIENT_APP]}, tags=["pa.signin.privileged"], absent=["pa.signin.no_mfa", "pa.signin.unmanaged_device"], severity=3)
case(SP, "service principal roster: learned from an app role grant of RoleManagement.ReadWrite.Directory (tier 1)",
     None, inputs=[grant, sp_signin()], tags=["pa.signin.privileged", "pa.role.tier1"], tier=1, severity=3)
case(SP, "service principal roster near miss: a user signing in to the privileged service principal's application is not privileged",
     None, inputs=[grant, user_signin(upn_id=DAVE, app=("Contoso Backup Automation", CLIENT_APP))],
     tags=[], absent=["pa.signin.privileged"], tier=None)
MI_SP = "7d3f0000-aaaa-4bbb-8ccc-0000000000d7"
owner_body = {"properties": {"roleDefinitionId": "/subscriptions/dfa2a084-766f-4003-8ae1-c4aeb893a99f/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
                             "principalId": MI_SP, "principalType": "ServicePrincipal",
                             "scope": "/subscriptions/dfa2a084-766f-4003-8ae1-c4aeb893a99f"}}
mi_owner = activity_eventhub("Microsoft.Authorization/roleAssignments/write",
                             resource="/subscriptions/dfa2a084-766f-4003-8ae1-c4aeb893a99f/providers/Microsoft.Authorization/roleAssignments/5f2c0000-0000-0000-0000-0000000000a1",
                             body=owner_body)
mi_signin = {"time": "2026-03-05T09:40:00.0000000Z", "resourceId": f"/tenants/{TENANT}/providers/Microsoft.aadiam",
             "operationName": "Sign-in activity", "operationVersion": "1.0", "category": "ManagedIdentitySignInLogs", "tenantId": TENANT,
             "resultType": "0", "resultSignature": "None", "durationMs": 0, "callerIpAddress": "20.50.0.12",
             "correlationId": "a1b2c3d4-0000-0000-0000-00000000e7e7", "Level": 4,
             "properties": {"id": "2c4e0000-0000-0000-0000-0000000000e8", "createdDateTime": "2026-03-05T09:39:58.1234567+00:00",
                            "appId": "9f1e0000-bbbb-4ccc-8ddd-0000000000d8", "appDisplayName": "vm-build-01",
                            "servicePrincipalId": MI_SP, "servicePrincipalName": "vm-build-01",
                            "resourceDisplayName": "Azure Resource Manager", "resourceId": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
                            "ipAddress": "20.50.0.12", "isInteractive": False, "signInEventTypes": ["managedIdentity"],
                            "managedIdentityType": "SystemAssigned", "riskState": "none", "riskLevelDuringSignIn": "none",
                            "status": {"errorCode": 0}, "authenticationProcessingDetails": [], "conditionalAccessStatus": "notApplied"}}
case(SP, "managed identity roster: made Owner of a subscription (Activity Log), then its sign-in (Event Hubs) is privileged",
     None, inputs=[mi_owner, mi_signin], tags=["pa.signin.privileged", "pa.role.tier0"], tier=0, severity=3)
case(SP, "managed identity near miss: the Owner assignment failed, its sign-in is ordinary",
     None, inputs=[dict(mi_owner, resultType="Failure", resultSignature="Failed.Forbidden"), mi_signin],
     tags=[], absent=["pa.signin.privileged"], tier=None)
case(SP, "pa.signin.risky near miss: the risk was dismissed by an administrator", user_signin(risk="high", state="dismissed"), config=ROSTER,
     tags=["pa.signin.privileged"], absent=["pa.signin.risky"], severity=3)
case(SP, "pa.signin.risky near miss: remediated risk of a privileged service principal",
     sp_signin(risk="medium", state="remediated"), config={"privileged_principals": [CLIENT_SP]},
     tags=["pa.signin.privileged"], absent=["pa.signin.risky"], severity=3)
case(SP, "pa.signin.risky: resolved_risk_states [] flags confirmedSafe risks again", user_signin(risk="high", state="confirmedSafe"),
     config=dict(ROSTER, resolved_risk_states=[]), tags=["pa.signin.privileged", "pa.signin.risky"], severity=8)
case(SP, "pa.signin.risky: a high risk still at risk", user_signin(risk="high", state="atRisk"), config=ROSTER,
     tags=["pa.signin.privileged", "pa.signin.risky"], severity=8)

HEADERS = {
    APPS: "Applications and service principals: pa.app.credential_added, pa.app.consent_granted, pa.app.privileged_permission\n"
          "# (app role assignments, delegated grants, required permissions in the manifest).",
    EL: "Elevate access: pa.azure.elevate_access from the Entra audit and the Activity Log.",
    AP: "Authentication methods policy, identity providers, cross-tenant access: pa.tenant.auth_policy_change.",
    MFA: "Strong authentication removed from a privileged account: pa.account.mfa_removed.",
    SP: "Service principals and managed identities as principals (roster by object id and app id), riskState.",
}
for file, cs in files.items():
    with open(os.path.join(ROOT, "mappings/tests/detections", file), "w") as f:
        f.write(f"# {HEADERS[file]}\n# Generated by scripts/gen-app-detection-cases.py: change it and re-run. Run: siem-connector test mappings/tests\n")
        yaml.safe_dump({"cases": cs}, f, sort_keys=False, width=140, allow_unicode=True)
    print(file, len(cs), "cases")
