// The console: a hash router (shell.js) over views, each drawn from the hub's public API. The views
// register themselves when imported; the order here is the navigation order.

import { start } from "./shell.js";
import "./views/login.js";
import "./views/dashboard.js";
import "./views/register.js";
import "./views/queue.js";
import "./views/case.js";
import "./views/stalled.js";
import "./views/referrals.js";
import "./views/alerts.js";
import "./views/tasks.js";
import "./views/inbox.js";
import "./views/ops.js";
import "./views/qr.js";

start();
