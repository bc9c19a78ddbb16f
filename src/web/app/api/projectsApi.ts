// The project store on the server (src/server/projects/routes.ts).
import type { Comic } from '../../project/schema.ts';
import { requestJson } from './http.ts';
import { authed } from './serverToken.ts';

export interface ProjectSummary {
  id: string;
  title: string;
  pages: number;
  revision: number;
  updatedAt: string;
}

export const listProjects = () => requestJson<{ projects: ProjectSummary[] }>('GET', '/studio/projects').then((r) => r.projects);
export const createProject = (title: string) => requestJson<{ comic: Comic; revision: number }>('POST', '/studio/projects', { title });
export const loadProject = (id: string) => requestJson<{ comic: Comic; revision: number }>('GET', `/studio/projects/${encodeURIComponent(id)}`);
export const saveProject = (comic: Comic, baseRevision: number) => requestJson<{ revision: number }>('PUT', `/studio/projects/${encodeURIComponent(comic.id)}`, { comic, baseRevision });
export const deleteProject = (id: string) => requestJson<null>('DELETE', `/studio/projects/${encodeURIComponent(id)}`);
export const importProject = (file: unknown) => requestJson<{ comic: Comic; revision: number }>('POST', '/studio/projects/import', file);
export const uploadAsset = (projectId: string, picture: Blob) => requestJson<{ name: string }>('POST', `/studio/projects/${encodeURIComponent(projectId)}/assets`, picture).then((r) => r.name);
export const assetUrl = (projectId: string, name: string) => authed(`/studio/projects/${encodeURIComponent(projectId)}/assets/${name}`);
export const rawProjectUrl = (id: string) => authed(`/studio/projects/${encodeURIComponent(id)}/raw`);
export const bundleUrl = (id: string) => authed(`/studio/projects/${encodeURIComponent(id)}/bundle`);
