// Entry point of every page: renders the page's module into #page with the user's context.
import { api } from "./api.js";
import { showError } from "./dom.js";

const body = document.body.dataset;

async function start() {
  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      try {
        await api("/api/auth/logout", { method: "POST", redirect: false });
      } finally {
        location.assign("/login");
      }
    });
  }
  const context = { role: body.role, user: body.user, camera: body.cameraId, cluster: body.cluster === "true" };
  try {
    const page = await import(`./pages/${body.page}.js`);
    await page.render(document.getElementById("page"), context);
  } catch (error) {
    if (error.status === 401) return; // on the way to the login page
    showError(error.message);
    console.error(error);
  }
}

start();
