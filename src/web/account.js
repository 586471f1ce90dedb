// The account views: logging in, registering and the profile with its avatar.

import { state } from './state.js';
import { api, loadMe, logout, scheduleRefresh } from './api.js';
import {
  $, toast, show, setTab, avatar, renderAccount, clearOnEdit, clearErrors, showErrors, previewOnChange,
} from './dom.js';

export function showLogin() {
  show('login');
  setTab(null);
  $('#login-form').elements.username.focus();
}

async function logIn(username, password, form) {
  const { status, data } = await api('/api/token/', { method: 'POST', body: { username, password } });
  if (status !== 200) { showErrors(form, data); return; }
  state.accessToken = data.access;
  state.refreshToken = data.refresh;
  scheduleRefresh();
  await loadMe();
  form.reset();
  clearErrors(form);
  location.hash = state.returnTo;
}

export function setupAccounts() {
  for (const form of document.querySelectorAll('#login-form, #register-form, #avatar-form')) clearOnEdit(form);
  const login = $('#login-form');
  login.addEventListener('submit', (event) => {
    event.preventDefault();
    logIn(login.elements.username.value, login.elements.password.value, login);
  });
  const register = $('#register-form');
  register.addEventListener('submit', async (event) => {
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(register));
    const { status, data } = await api('/api/register/', { method: 'POST', body: fields });
    if (status !== 201) { showErrors(register, data); return; }
    clearErrors(register);
    await logIn(fields.username, fields.password, register);
  });
  $('#logout').addEventListener('click', () => logout());
  showRegistrationMode();

  const avatarForm = $('#avatar-form');
  previewOnChange(avatarForm.elements.avatar, $('.preview', avatarForm));
  avatarForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = avatarForm.elements.avatar.files[0];
    if (!file) { showErrors(avatarForm, { avatar: ['Choose an image first.'] }); return; }
    const fd = new FormData();
    fd.append('avatar', file);
    const { status, data } = await api('/api/profile/avatar/', { method: 'PUT', body: fd });
    if (status !== 200) { showErrors(avatarForm, data); return; }
    state.me.avatar = data.avatar;
    avatarForm.reset();
    avatarForm.elements.avatar.dispatchEvent(new Event('change'));
    clearErrors(avatarForm);
    renderAccount();
    showProfile();
    toast('Avatar saved.');
  });
}

/** Asks the server who may register: the invite field only when it wants
 * one, no form at all when registration is closed. */
async function showRegistrationMode() {
  const { status, data } = await api('/api/config/', { retry: false });
  if (status !== 200) return;
  const invite = data.registration === 'invite';
  $('#invite-field').hidden = !invite;
  $('#register-form').elements.invite.disabled = !invite;
  $('#register-form').hidden = data.registration === 'closed';
  $('#register-closed').hidden = data.registration !== 'closed';
}

export function showProfile() {
  show('profile');
  setTab(null);
  $('#profile-avatar').replaceChildren(avatar(state.me.username, state.me.avatar, 'big'));
  $('#profile-name').textContent = state.me.username;
  $('#profile-email').textContent = state.me.email;
}
