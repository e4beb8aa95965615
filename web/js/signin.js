// Sign-in: checks the token with `me`, stores it, goes back where the visitor came from.

import { AuthError, NetworkError, gql, saveAuth } from "./api.js";

const ME = "query Me { me { id name role } }";

function nextUrl() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  // Only paths on this site: never an absolute URL to somewhere else.
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

const form = document.getElementById("signin-form");
const input = document.getElementById("token");
const error = document.getElementById("signin-error");
const submit = document.getElementById("signin-submit");

function showError(text) {
  error.textContent = text;
  error.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  input.removeAttribute("aria-invalid");
  const raw = input.value.trim().replace(/^Bearer\s+/i, "");
  if (!raw) {
    showError("Informe o token de acesso.");
    return;
  }
  submit.disabled = true;
  submit.textContent = "Verificando…";
  try {
    const data = await gql(ME, {}, { token: raw, redirectOnAuth: false });
    saveAuth(raw, data.me);
    location.assign(nextUrl());
  } catch (err) {
    if (err instanceof AuthError) showError("Token inválido. Confira e tente de novo.");
    else if (err instanceof NetworkError) showError("Sem conexão com o servidor. Tente de novo.");
    else showError(`Não foi possível entrar: ${err.message}`);
  } finally {
    submit.disabled = false;
    submit.textContent = "Entrar";
  }
});

input.focus();
