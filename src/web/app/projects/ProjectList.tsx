// The start screen: your comics, a new one, or one opened from a file (a bad file is explained).
import { useEffect, useState } from 'react';
import { bundleUrl, createProject, deleteProject, importProject, listProjects } from '../api/projectsApi.ts';
import type { ProjectSummary } from '../api/projectsApi.ts';
import { describeError, StudioError } from '../api/http.ts';

export function ProjectList({ open }: { open: (id: string) => void }) {
  const [projects, setProjects] = useState<ProjectSummary[] | null>(null);
  const [error, setError] = useState<{ message: string; problems: string[] } | null>(null);
  const [title, setTitle] = useState('');
  const refresh = () => listProjects().then(setProjects, (e) => setError({ message: describeError(e), problems: [] }));
  useEffect(() => void refresh(), []);

  const fail = (prefix: string) => (e: unknown) => setError({ message: `${prefix}: ${e instanceof StudioError ? e.message : describeError(e)}`, problems: e instanceof StudioError ? e.problems : [] });

  return (
    <div className="project-list">
      <header className="toolbar">
        <span className="brand">inkflow studio</span>
        <span className="spacer" />
        <a href="#/models">Models</a>
      </header>
      <main>
        <h2>Your comics</h2>
        {error && (
          <div className="error-box" role="alert" data-testid="list-error">
            <p>{error.message}</p>
            {error.problems.length > 0 && (
              <ul>
                {error.problems.map((p) => (
                  <li key={p}>{p}</li>
                ))}
              </ul>
            )}
          </div>
        )}
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            createProject(title.trim() || 'Untitled comic').then((r) => open(r.comic.id), fail('The comic was not created'));
          }}
        >
          <input value={title} onChange={(e) => setTitle(e.target.value)} placeholder="Title of a new comic" data-testid="new-title" maxLength={200} />
          <button type="submit" data-testid="create">
            New comic
          </button>
          <label className="file-button">
            Open a comic file…
            <input
              type="file"
              accept=".json,application/json"
              data-testid="import-file"
              onChange={async (e) => {
                const f = e.target.files?.[0];
                e.target.value = '';
                if (!f) return;
                let data: unknown;
                try {
                  data = JSON.parse(await f.text());
                } catch {
                  setError({ message: `${f.name} cannot be opened: it is not a comic file (not JSON)`, problems: [] });
                  return;
                }
                importProject(data).then((r) => open(r.comic.id), fail(f.name));
              }}
            />
          </label>
        </form>
        {projects === null && !error && <p className="muted">Loading…</p>}
        {projects?.length === 0 && <p className="muted">No comics yet. Give your first one a title above.</p>}
        <ul className="cards">
          {projects?.map((p) => (
            <li key={p.id}>
              <a href={`#/p/${p.id}`} data-testid="project-link">
                <strong>{p.title}</strong>
                <span className="muted">
                  {p.pages} page{p.pages === 1 ? '' : 's'} · edited {new Date(p.updatedAt).toLocaleString()}
                </span>
              </a>
              <span className="row tight">
                <a className="small" href={bundleUrl(p.id)} download>
                  Save as file
                </a>
                <button
                  className="small danger"
                  onClick={() => {
                    if (confirm(`Delete “${p.title}” and its pictures? This cannot be undone.`)) deleteProject(p.id).then(refresh, fail('The comic was not deleted'));
                  }}
                >
                  Delete
                </button>
              </span>
            </li>
          ))}
        </ul>
      </main>
    </div>
  );
}
