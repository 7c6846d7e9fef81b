export { getCaRoute, getCertificateRoute, healthRoute, listCertificatesRoute, issueRoute as issueCertificateHandlerFor } from '../../../src/http/routes.js';
