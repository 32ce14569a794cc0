// The navigation: one line per page, in menu order. A page module exports
// a component; `admin: true` hides the link for members (the API refuses
// them anyway). Add a page by adding its line here.
import { Overview } from "@weft/pages/overview.js";
import { Nodes } from "@weft/pages/nodes.js";
import { ResourcesPage } from "@weft/pages/resources.js";
import { RelaysPage } from "@weft/pages/relays.js";
import { PolicyPage } from "@weft/pages/policy.js";
import { AuditPage } from "@weft/pages/audit.js";
import { UsersPage } from "@weft/pages/users.js";
import { AuthKeysPage } from "@weft/pages/authkeys.js";
import { ApiKeysPage } from "@weft/pages/apikeys.js";

export const routes = [
  { path: "/", title: "Overview", page: Overview },
  { path: "/nodes", title: "Nodes", page: Nodes },
  { path: "/users", title: "Users", page: UsersPage, admin: true },
  { path: "/auth-keys", title: "Auth keys", page: AuthKeysPage },
  { path: "/api-keys", title: "API keys", page: ApiKeysPage, admin: true },
  { path: "/resources", title: "Resources", page: ResourcesPage, admin: true },
  { path: "/relays", title: "Relays", page: RelaysPage, admin: true },
  { path: "/policy", title: "Policy", page: PolicyPage, admin: true },
  { path: "/audit", title: "Audit log", page: AuditPage, admin: true },
];
