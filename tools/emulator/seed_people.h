// The people and roles of the seeded privileged-access scenario (seed.cc, alerts.cc).
#pragma once

namespace siem::emulator::scenario {

constexpr const char* kGlobalAdmin = "62e90394-69f5-4237-9190-012177145e10";
constexpr const char* kPrivRoleAdmin = "e8611ab8-c189-46e8-94e1-60213ab1f814";
constexpr const char* kSecurityAdmin = "194ae4cb-b126-40b2-bd5b-6091b380977d";
constexpr const char* kGroupsAdmin = "fdd7a751-b60b-444a-984c-02652fe8fa1c";
constexpr const char* kAzureOwner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

struct Person {
  const char* id;
  const char* name;
  const char* upn;
  const char* ip;
};
constexpr Person kAlice{"5d6f3a2e-1b0c-4e8f-9a7d-2c4b6e8f0a11", "Alice Admin", "alice.admin@contoso.com", "203.0.113.10"};
constexpr Person kBob{"728309ae-1a37-4937-9afe-e35d964db09b", "Bob Helpdesk", "bob@contoso.com", "198.51.100.23"};
constexpr Person kBreakGlass{"0b6c1f5e-9d8a-4c3b-8e2f-7a1d5c9b3e00", "Emergency Access 01", "breakglass01@contoso.onmicrosoft.com", "192.0.2.77"};
constexpr Person kEve{"9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "Eve Contractor", "eve.contractor@contoso.com", "45.155.205.233"};

}  // namespace siem::emulator::scenario
