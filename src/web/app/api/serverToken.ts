// A server started with --token (needed to listen beyond this machine) wants it on every request. The
// studio is opened as http://host:8188/?token=T; the token is kept for the tab and added as ?token= to
// every address the studio asks for, including pictures and the WebSocket, which cannot carry headers.
const KEY = 'inkflow-token';
const fromUrl = new URLSearchParams(location.search).get('token');
if (fromUrl) sessionStorage.setItem(KEY, fromUrl);
const token = fromUrl ?? sessionStorage.getItem(KEY);

export function authed(path: string): string {
  if (!token) return path;
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}
